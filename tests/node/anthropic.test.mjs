// The official `@anthropic-ai/sdk` Node SDK against the gateway's Anthropic drop-in route
// (`/anthropic`), served by Anthropic (bare model name), OpenAI and Gemini providers.
// GATEWAY_URL and MOCK_CONTENT come from tests/python/test_node_sdks.py.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';

const gateway = process.env.GATEWAY_URL;
const expected = process.env.MOCK_CONTENT;
const client = new Anthropic({ baseURL: `${gateway}/anthropic`, apiKey: 'not-the-key', maxRetries: 0 });
const weatherTool = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string' }, days: { type: 'integer' } },
    required: ['city', 'days'],
  },
};
const question = { role: 'user', content: 'What is the weather in Paris for 2 days?' };
const textOf = (message) => message.content.filter((b) => b.type === 'text').map((b) => b.text);

for (const model of ['claude-sonnet-4-5', 'openai/gpt-4o-mini', 'gemini/gemini-2.5-flash']) {
  describe(`@anthropic-ai/sdk, ${model}`, () => {
    it('answers a message', async () => {
      const message = await client.messages.create({
        model, max_tokens: 500, messages: [{ role: 'user', content: 'Say hello.' }],
      });
      assert.deepEqual(textOf(message), [expected]);
      assert.equal(message.stop_reason, 'end_turn');
    });

    it('streams it, one message_start first and message_stop last', async () => {
      const stream = client.messages.stream({
        model, max_tokens: 500, messages: [{ role: 'user', content: 'Say hello.' }],
      });
      const kinds = [];
      let text = '';
      for await (const event of stream) {
        kinds.push(event.type);
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
          text += event.delta.text;
        }
      }
      const final = await stream.finalMessage();
      assert.equal(kinds[0], 'message_start');
      assert.equal(kinds.filter((k) => k === 'message_start').length, 1);
      assert.equal(kinds.at(-1), 'message_stop');
      assert.equal(text, expected);
      assert.equal(final.stop_reason, 'end_turn');
    });

    it('round-trips a tool call', async () => {
      const first = await client.messages.create({
        model, max_tokens: 500, tools: [weatherTool], tool_choice: { type: 'any' },
        messages: [question],
      });
      assert.equal(first.stop_reason, 'tool_use');
      const use = first.content.find((b) => b.type === 'tool_use');
      assert.equal(use.name, 'get_weather');
      assert.equal(typeof use.input.city, 'string');
      const second = await client.messages.create({
        model, max_tokens: 500, tools: [weatherTool],
        messages: [question, { role: 'assistant', content: first.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18°C and sunny' }] }],
      });
      assert.deepEqual(textOf(second), [expected]);
    });

    it('raises the SDK error class for a bad request', async () => {
      await assert.rejects(
        client.messages.create({ model, max_tokens: 10, messages: [] }),
        (error) => {
          assert.ok(error instanceof Anthropic.BadRequestError, String(error));
          assert.equal(error.status, 400);
          assert.equal(error.error.type, 'error');
          return true;
        },
      );
    });
  });
}
