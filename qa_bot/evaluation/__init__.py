"""The evaluation suite: score retrieval, answers, citations and refusals against eval/gold.jsonl."""
