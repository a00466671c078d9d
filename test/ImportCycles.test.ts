/**
 * No value-level import cycle among the library's modules: esbuild bundles every public entry point
 * (type-only imports are gone by then, as they are at run time) and its metafile lists each module's
 * imports; a depth-first walk over them finds any cycle.
 */
import { assert, describe, it } from "@effect/vitest"
import * as esbuild from "esbuild"
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")

/** The public modules of the library (the command and the testing kit are checked by their own owners). */
const entryPoints = [
  "src/index.ts",
  "src/Discovery.ts",
  "src/Revocation.ts",
  ...Fs.readdirSync(Path.join(root, "src/Grant")).filter((f) => f.endsWith(".ts")).map((f) => `src/Grant/${f}`)
]

/** Every cycle, each as the list of modules around it. */
const cycles = (graph: ReadonlyMap<string, ReadonlyArray<string>>): Array<Array<string>> => {
  const found: Array<Array<string>> = []
  const state = new Map<string, "open" | "done">()
  const stack: Array<string> = []
  const visit = (node: string) => {
    state.set(node, "open")
    stack.push(node)
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next])
      else if (state.get(next) === undefined) visit(next)
    }
    stack.pop()
    state.set(node, "done")
  }
  for (const node of graph.keys()) if (state.get(node) === undefined) visit(node)
  return found
}

describe("imports", () => {
  it("no value-level import cycle in src/ (public entry points)", async () => {
    const result = await esbuild.build({
      absWorkingDir: root,
      entryPoints,
      bundle: true,
      write: false,
      metafile: true,
      platform: "node",
      format: "esm",
      packages: "external",
      outdir: "out",
      tsconfig: "tsconfig.json",
      logLevel: "silent"
    })
    const graph = new Map<string, ReadonlyArray<string>>()
    for (const [file, input] of Object.entries(result.metafile.inputs)) {
      graph.set(file, input.imports.filter((i) => !i.external).map((i) => i.path))
    }
    assert.isAtLeast(graph.size, 20, "the walk saw the modules")
    assert.isTrue(graph.has("src/Grant/ClientCredentials.ts"))
    assert.deepStrictEqual(cycles(graph).map((c) => c.join(" -> ")), [])
  })
})
