import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { readFileSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { TokenStore } from "tokenlayer"
import { storeSuite } from "./support/storeSuite.js"

storeSuite("TokenStore.layerMemory", TokenStore.layerMemory)

/** The directory of the file store under test: a fresh temporary directory for every test. */
class StoreDirectory extends Context.Tag("test/StoreDirectory")<StoreDirectory, string>() {}

const FileStoreLive = Layer.unwrapScoped(Effect.gen(function*() {
  const root = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped({ prefix: "tokenlayer-store-" })
  // a directory the store has to create
  const directory = path.join(root, "state", "tokens")
  return Layer.merge(TokenStore.layerFile({ directory }), Layer.succeed(StoreDirectory, directory))
})).pipe(Layer.provide(NodeFileSystem.layer), Layer.orDie)

storeSuite("TokenStore.layerFile", FileStoreLive, {
  corrupt: (key, content) =>
    Effect.flatMap(StoreDirectory, (directory) =>
      Effect.promise(async () => {
        await fs.mkdir(directory, { recursive: true, mode: 0o700 })
        await fs.writeFile(path.join(directory, TokenStore.fileName(key)), content, { mode: 0o600 })
      })),
  another: Effect.flatMap(
    StoreDirectory,
    (directory) => TokenStore.makeFile({ directory }).pipe(Effect.provide(NodeFileSystem.layer))
  )
})

describe("TokenStore's imports", () => {
  /** The packages that `file` loads, through its value imports and theirs (type-only imports load nothing). */
  const packagesLoadedBy = (file: string): Set<string> => {
    const packages = new Set<string>()
    const seen = new Set<string>()
    const visit = (source: string) => {
      if (seen.has(source)) return
      seen.add(source)
      const text = readFileSync(source, "utf8")
      for (
        const match of text.matchAll(
          /^(?:import|export)\s+(?!type\b)(?:[\w*\s,]*\{[^}]*\}|[^"\n{]*?)\s*from\s+"([^"]+)"/gm
        )
      ) {
        const target = match[1]!
        if (target.startsWith(".")) visit(path.resolve(path.dirname(source), target.replace(/\.js$/, ".ts")))
        else packages.add(target)
      }
    }
    visit(file)
    return packages
  }

  it("TokenStore.ts loads no platform package, itself or through what it imports", () => {
    const packages = [...packagesLoadedBy(path.join(import.meta.dirname, "..", "src", "TokenStore.ts"))]
    assert.isTrue(packages.some((p) => p.startsWith("effect/")), packages.join(", "))
    assert.deepStrictEqual(packages.filter((p) => p.startsWith("@effect/")), [])
    assert.deepStrictEqual(packages.filter((p) => !p.startsWith("effect/") && !p.startsWith("node:")), [])
  })
})
