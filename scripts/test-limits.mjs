// Preloaded into every test file by scripts/test.mjs: gives each test and hook a default time limit.
//
// Node 20's --test-timeout bounds a whole file, not each test (and Node's default is no limit at
// all), so a regression that stops a close or a delivery would hang the run. Here every it()/test()
// and before/after hook that does not name its own `timeout` gets TEST_TIMEOUT_MS. A slow test sets
// its own: it("...", { timeout: 300_000 }, ...). describe() is left alone: a timeout there bounds
// the whole suite, which only a file that wants that should ask for.
import { createRequire, syncBuiltinESMExports } from "node:module";

const require = createRequire(import.meta.url);
const nodeTest = require("node:test");
const limitMs = Number(process.env.HERALD_TEST_TIMEOUT_MS ?? 120_000);

/**
 * Wraps a test, it(name?, options?, body?), or a hook, before(body, options?), so that
 * options.timeout defaults to limitMs.
 */
function withDefaultTimeout(fn, isHook) {
  const wrapped = function (...args) {
    const optionsAt = args.findIndex((arg) => typeof arg === "object" && arg !== null);
    if (optionsAt === -1) {
      const bodyAt = args.findIndex((arg) => typeof arg === "function");
      const at = isHook || bodyAt === -1 ? args.length : bodyAt;
      args.splice(at, 0, { timeout: limitMs });
    } else if (args[optionsAt].timeout === undefined) {
      args[optionsAt] = { ...args[optionsAt], timeout: limitMs };
    }
    return fn.apply(this, args);
  };
  // it.skip, it.todo, it.only keep working.
  return Object.assign(wrapped, fn);
}

if (limitMs > 0) {
  for (const name of ["it", "test"]) nodeTest[name] = withDefaultTimeout(nodeTest[name], false);
  for (const name of ["before", "after", "beforeEach", "afterEach"]) nodeTest[name] = withDefaultTimeout(nodeTest[name], true);
  syncBuiltinESMExports();
}
