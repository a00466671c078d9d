/** The bounded `insufficient_scope` challenge parser: what a hostile server may send is ignored, never a defect. */
import { assert, describe, it } from "@effect/vitest"
import { insufficientScope } from "../src/internal/bearerChallenge.js"

describe("insufficientScope", () => {
  it("reads the scope of an insufficient_scope Bearer challenge", () => {
    assert.deepStrictEqual(
      insufficientScope(`Bearer realm="api", error="insufficient_scope", scope="read write"`),
      ["read", "write"]
    )
    assert.deepStrictEqual(insufficientScope(`Basic realm="x", Bearer error=insufficient_scope, scope="a"`), ["a"])
    assert.deepStrictEqual(insufficientScope(`Bearer error="insufficient_scope", scope="a\\"b"`), undefined)
  })

  it("ignores other errors, missing or invalid scopes, malformed quoting and huge headers", () => {
    assert.strictEqual(insufficientScope(undefined), undefined)
    assert.strictEqual(insufficientScope(`Bearer error="invalid_token"`), undefined)
    assert.strictEqual(insufficientScope(`Bearer error="insufficient_scope"`), undefined)
    assert.strictEqual(insufficientScope(`Bearer error="insufficient_scope", scope="a\u0000b"`), undefined)
    assert.strictEqual(insufficientScope(`Bearer error="insufficient_scope", scope="read`), undefined)
    assert.strictEqual(insufficientScope(`Bearer error="insufficient_scope", scope="x\\`), undefined)
    assert.strictEqual(insufficientScope(`Bearer error="insufficient_scope", scope="${"a ".repeat(5000)}"`), undefined)
    assert.strictEqual(insufficientScope(`Bearer error="insufficient_scope", scope="${"a ".repeat(40)}"`), undefined)
    assert.strictEqual(insufficientScope(`Basic error="insufficient_scope", scope="read"`), undefined)
  })
})
