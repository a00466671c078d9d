import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
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
