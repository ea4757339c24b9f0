'use strict';
// Loads the compiled addon. Built by scripts/build-native.mjs (run by the root `prepare` and
// `build` scripts), never by an install script of this package.
const { join } = require('node:path');
module.exports = require(join(__dirname, 'build', 'Release', 'wrenn_native.node'));
