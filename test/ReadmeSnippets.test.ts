/**
 * Every TypeScript example in the README is compiled: each ```ts block must appear, line for line, in a
 * file that `npm run typecheck` checks (scratchpad/ or test/). A README edited on its own fails here.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")

const sources = (directory: string): Array<string> =>
  Fs.readdirSync(Path.join(root, directory), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => Fs.readFileSync(Path.join(entry.parentPath, entry.name), "utf8"))

const normalize = (text: string): string => text.split("\n").map((line) => line.trimEnd()).join("\n").trim()

const blocks = [...Fs.readFileSync(Path.join(root, "README.md"), "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((
  match
) => normalize(match[1]!))

describe("README", () => {
  it("has TypeScript examples", () => {
    assert.isAtLeast(blocks.length, 10)
  })

  const compiled = [...sources("scratchpad"), ...sources("test")].map(normalize)
  blocks.forEach((block, i) => {
    const firstCode = block.split("\n").find((line) => line !== "" && !line.startsWith("//")) ?? ""
    it(`example ${i + 1} is a compiled file's text (${firstCode.slice(0, 60)})`, () => {
      assert.isTrue(compiled.some((source) => source.includes(block)), "not found in scratchpad/ or test/")
    })
  })
})
