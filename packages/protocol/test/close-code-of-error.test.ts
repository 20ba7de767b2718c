import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ClosingErrorCodes, closeCodeOfError, ErrorCodes } from "../src/index.js";

describe("closeCodeOfError", () => {
  it("answers the close code of every error code that ends a connection, and nothing for the others", () => {
    for (const code of Object.keys(ErrorCodes)) {
      const closing = (ClosingErrorCodes as Record<string, { code: number }>)[code];
      assert.equal(closeCodeOfError(code), closing?.code, code);
    }
    assert.equal(closeCodeOfError("toString"), undefined);
  });
});
