// The official `openai` Node SDK against the gateway: `/v1` with `provider/model` names, and the
// OpenAI drop-in route (`/openai/v1`) where a bare model goes to the `openai` provider. Each
// scenario runs for models served by OpenAI, Anthropic and Gemini providers.
// GATEWAY_URL and MOCK_CONTENT come from tests/python/test_node_sdks.py.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import OpenAI from 'openai';

const gateway = process.env.GATEWAY_URL;
const expected = process.env.MOCK_CONTENT;
const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, days: { type: 'integer' } },
      required: ['city', 'days'],
    },
  },
};
const question = { role: 'user', content: 'What is the weather in Paris for 2 days?' };
const clients = {
  '/v1': new OpenAI({ baseURL: `${gateway}/v1`, apiKey: 'not-the-key', maxRetries: 0 }),
  '/openai/v1': new OpenAI({ baseURL: `${gateway}/openai/v1`, apiKey: 'not-the-key', maxRetries: 0 }),
};
const cases = [
  ['/openai/v1', 'gpt-4o-mini'],
  ['/v1', 'anthropic/claude-sonnet-4-5'],
  ['/v1', 'gemini/gemini-2.5-flash'],
];

for (const [base, model] of cases) {
  const client = clients[base];
  describe(`openai SDK, ${model} at ${base}`, () => {
    it('answers a chat completion', async () => {
      const answer = await client.chat.completions.create({
        model, messages: [{ role: 'user', content: 'Say hello.' }],
      });
      assert.equal(answer.choices[0].message.content, expected);
      assert.equal(answer.choices[0].finish_reason, 'stop');
      assert.ok(answer.usage.completion_tokens >= expected.split(' ').length);
    });

    it('streams it', async () => {
      const stream = await client.chat.completions.create({
        model, messages: [{ role: 'user', content: 'Say hello.' }], stream: true,
      });
      let text = '';
      const finishes = [];
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        if (!choice) continue;
        text += choice.delta.content ?? '';
        if (choice.finish_reason) finishes.push(choice.finish_reason);
      }
      assert.equal(text, expected);
      assert.deepEqual(finishes, ['stop']);
    });

    it('round-trips a tool call', async () => {
      const first = await client.chat.completions.create({
        model, messages: [question], tools: [weatherTool], tool_choice: 'required',
      });
      assert.equal(first.choices[0].finish_reason, 'tool_calls');
      const [call] = first.choices[0].message.tool_calls;
      assert.equal(call.function.name, 'get_weather');
      const args = JSON.parse(call.function.arguments);
      assert.equal(typeof args.city, 'string');
      assert.equal(typeof args.days, 'number');
      const second = await client.chat.completions.create({
        model, tools: [weatherTool],
        messages: [question, first.choices[0].message,
          { role: 'tool', tool_call_id: call.id, content: '18°C and sunny' }],
      });
      assert.equal(second.choices[0].message.content, expected);
    });

    it('raises the SDK error class for a bad request', async () => {
      await assert.rejects(
        client.chat.completions.create({ model, messages: [], max_tokens: 10 }),
        (error) => {
          assert.ok(error instanceof OpenAI.BadRequestError, String(error));
          assert.equal(error.status, 400);
          return true;
        },
      );
    });
  });
}
