"""The Gemini core every client protocol builds on (pure code, no I/O).

- `turns`: neutral turns -> Gemini `contents` (merging, tool-call/response pairing and repair,
  which thought signatures may be replayed to which model family, thought stripping);
- `media`: client media references -> inlineData / fileData parts;
- `config`: tools, toolConfig and generationConfig pieces (output caps, thinking per family);
- `reader`: one reader turning upstream frames into neutral events (text, thinking, signature,
  function call, usage, finish), and the verdict on how an answer ended.

A client protocol (anthropic, openai_chat, openai_responses) keeps only its own mapping in and
out; none of them imports another.
"""
