/**
 * Keeps a failing assertion from hanging its test file (a vitest setup file).
 *
 * When an assertion fails, vitest renders its `actual` and `expected` values (a diff, and each value
 * printed ten levels deep) in the worker, before it reports the failure. Its printer follows every
 * path to a shared object, so a value whose objects share children (a response with its socket and
 * server, a fiber, an Effect context) takes time exponential in its depth: a DAG of 8 children per
 * object, 12 deep, kept a worker busy for good, where no test timeout can end it (vitest 3.2). A test
 * that fails once on a loaded machine then hangs the whole run instead of failing.
 *
 * This wraps chai's `Assertion#assert`, through which `assert.*` and `expect(...)` fail: a failure whose
 * values are too large to print as a tree (about 10,000 nodes, counted the way the printer walks them,
 * a Buffer by its size, a wide object by its keys) has them replaced by a bounded rendering, so the
 * failure is reported at once, with a diff of what can be shown.
 *
 * Not covered: chai builds its own one-line message before this sees the failure, and its inspector
 * reads every byte of a Buffer on each path to it (a 256 KiB Buffer under 2^12 paths took chai alone
 * 108 s). Assert on what a test means (a status, a field), not on whole responses.
 */
import { chai } from "vitest"

const nodeBudget = 10_000
const printedNodes = 300
const printedDepth = 4
const printedKeys = 30

const isObject = (value: unknown): value is object =>
  (typeof value === "object" && value !== null) || typeof value === "function"

/** The enumerable own keys, as the printer lists them. */
const keysOf = (value: object): Array<string | symbol> => [
  ...Object.keys(value),
  ...Object.getOwnPropertySymbols(value).filter((symbol) => Object.prototype.propertyIsEnumerable.call(value, symbol))
]

const read = (value: object, key: string | symbol): unknown => {
  try {
    return (value as Record<string | symbol, unknown>)[key]
  } catch {
    return undefined
  }
}

/** Whether printing `value` as a tree visits more than `nodeBudget` objects. */
const tooLarge = (value: unknown): boolean => {
  let visited = 0
  const path = new Set<object>()
  const walk = (node: unknown, depth: number): boolean => {
    if (!isObject(node) || path.has(node) || depth > 20) return false
    if (++visited > nodeBudget) return true
    // a Buffer or typed array is printed as a list of numbers: a leaf, charged for its length
    if (ArrayBuffer.isView(node)) return (visited += Math.ceil(node.byteLength / 64)) > nodeBudget
    path.add(node)
    try {
      if (node instanceof Map) {
        for (const [key, entry] of node) if (walk(key, depth + 1) || walk(entry, depth + 1)) return true
      } else if (node instanceof Set) {
        for (const entry of node) if (walk(entry, depth + 1)) return true
      }
      const keys = keysOf(node)
      visited += Math.floor(keys.length / 8) // a wide object costs its keys, even those holding no object
      if (visited > nodeBudget) return true
      for (const key of keys) if (walk(read(node, key), depth + 1)) return true
      return false
    } finally {
      path.delete(node)
    }
  }
  return walk(value, 0)
}

/** A rendering of `value` bounded in depth, keys per object and objects in all. */
const bounded = (value: unknown): string => {
  let budget = printedNodes
  const render = (node: unknown, depth: number, indent: string): string => {
    if (typeof node === "string") return JSON.stringify(node.length > 200 ? `${node.slice(0, 200)}…` : node)
    if (typeof node === "bigint") return `${node}n`
    if (typeof node === "symbol") return node.toString()
    if (typeof node === "function") return `[Function ${node.name || "anonymous"}]`
    if (!isObject(node)) return String(node)
    const name = node.constructor?.name ?? "Object"
    if (ArrayBuffer.isView(node)) return `[${name} of ${node.byteLength} bytes]`
    if (--budget < 0 || depth >= printedDepth) return `[${name}]`
    const entries: Array<[string, unknown]> = node instanceof Map
      ? [...node].map(([key, entry]) => [String(key), entry])
      : node instanceof Set
      ? [...node].map((entry, index) => [String(index), entry])
      : keysOf(node).map((key) => [String(key), read(node, key)])
    const inner = `${indent}  `
    const shown = entries.slice(0, printedKeys).map(([key, entry]) =>
      `${inner}${key}: ${render(entry, depth + 1, inner)}`
    )
    if (entries.length > printedKeys) shown.push(`${inner}… ${entries.length - printedKeys} more`)
    return `${name} {\n${shown.join(",\n")}\n${indent}}`
  }
  return render(value, 0, "")
}

interface Failure {
  actual?: unknown
  expected?: unknown
}

const original = chai.Assertion.prototype.assert

chai.Assertion.prototype.assert = function(this: Chai.AssertionStatic, ...args: Parameters<typeof original>) {
  try {
    return original.apply(this, args)
  } catch (error) {
    if (error instanceof chai.AssertionError) {
      const failure = error as Failure
      if (tooLarge(failure.actual) || tooLarge(failure.expected)) {
        failure.actual = bounded(failure.actual)
        failure.expected = bounded(failure.expected)
      }
    }
    throw error
  }
}
