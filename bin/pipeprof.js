#!/usr/bin/env node
// Entry point of the `pipeprof` command: the compiled CLI in dist/.
require('../dist/cli/main.js').main();
