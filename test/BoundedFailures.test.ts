/**
 * The setup file `test/support/boundedFailures.ts` is installed: a failing assertion on a value too large
 * to print as a tree carries a bounded rendering instead (vitest would otherwise spend exponential time
 * printing it, in a worker no test timeout can stop), and a small one keeps its values.
 */
import { assert, describe, it } from "@effect/vitest"
import { expect } from "vitest"

/** 8 children per object, 12 levels, every child of a level the same object: 8^12 paths, 13 objects. */
const dag = (): Record<string, unknown> => {
  let level: Record<string, unknown> = { leaf: 1 }
  for (let depth = 0; depth < 12; depth++) {
    const next: Record<string, unknown> = {}
    for (let k = 0; k < 8; k++) next[`k${k}`] = level
    level = next
  }
  return level
}

const failureOf = (assertion: () => void): { readonly actual?: unknown; readonly expected?: unknown } => {
  try {
    assertion()
  } catch (error) {
    return error as { readonly actual?: unknown; readonly expected?: unknown }
  }
  return assert.fail("the assertion passed")
}

describe("failing assertions on large values", () => {
  it("assert.* and expect(): the values become bounded text", () => {
    for (
      const failure of [
        failureOf(() => assert.deepStrictEqual(dag(), {})),
        failureOf(() => expect(dag()).toEqual({}))
      ]
    ) {
      assert.isString(failure.actual)
      assert.isString(failure.expected)
      assert.isBelow((failure.actual as string).length, 20_000)
      assert.include(failure.actual as string, "k7: Object {")
    }
  })

  it("small values are left as they are", () => {
    const failure = failureOf(() => assert.deepStrictEqual({ a: [1, 2, 3] }, { a: [1, 2, 4] }))
    assert.deepStrictEqual(failure.actual, { a: [1, 2, 3] })
    assert.deepStrictEqual(failure.expected, { a: [1, 2, 4] })
  })
})
