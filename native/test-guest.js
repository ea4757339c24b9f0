'use strict';
// Loads the test-only addon (the userfaultfd guest stand-in, views of the device filter). Built by
// `node scripts/build-native.mjs --test-guest`, which npm test and the benchmarks run; the
// production addon (index.js) does not contain it.
const { join } = require('node:path');
module.exports = require(join(__dirname, 'build', 'Release', 'wrenn_test_guest.node'));
