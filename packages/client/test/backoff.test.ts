import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay } from "../src/index.js";

const options = { minDelay: 500, maxDelay: 20_000, factor: 2 };

describe("backoff (exponential, full jitter)", () => {
  it("grows the window by the factor per attempt: with the top of the jitter range it is min + min * factor^attempt", () => {
    const top = () => 0.999999;
    assert.deepEqual([0, 1, 2, 3, 4].map((attempt) => backoffDelay(attempt, options, top)), [1000, 1500, 2500, 4500, 8500]);
  });

  it("never goes below minDelay nor above maxDelay, whatever the attempt and the random draw", () => {
    for (let attempt = 0; attempt < 200; attempt++) {
      for (const draw of [0, 0.25, 0.5, 0.75, 0.999999]) {
        const delay = backoffDelay(attempt, options, () => draw);
        assert.ok(delay >= options.minDelay && delay <= options.maxDelay, `attempt ${attempt}, draw ${draw}: ${delay}`);
      }
    }
    assert.equal(backoffDelay(0, options, () => 0), 500);
    assert.equal(backoffDelay(1_000, options, () => 0.999999), 20_000);
  });

  it("spreads retries over the whole window (full jitter), not around one value", () => {
    const delays = Array.from({ length: 2_000 }, () => backoffDelay(5, options));
    const window = Math.min(options.maxDelay, options.minDelay * 2 ** 5);
    assert.ok(Math.min(...delays) < options.minDelay + window * 0.1, "some retries come early in the window");
    assert.ok(Math.max(...delays) > options.minDelay + window * 0.9, "some retries come late in the window");
  });
});
