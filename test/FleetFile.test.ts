import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as path from "node:path"
import * as Fleet from "./support/fleet.js"
import * as TokenEndpoint from "./support/tokenEndpoint.js"

const issued = (index: number): string => `fleet-token-${index}`

const tempDirectory = Effect.flatMap(
  FileSystem.FileSystem,
  (fs) => fs.makeTempDirectoryScoped({ prefix: "tokenlayer-fleet-" })
)
  .pipe(Effect.map((root) => path.join(root, "tokens")), Effect.provide(NodeFileSystem.layer), Effect.orDie)

describe("a fleet of 8 processes sharing a file store", () => {
  it.live("cold start: exactly 1 token request; once the token is due: exactly 1 more", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond((_, index) => TokenEndpoint.tokenReply({ access_token: issued(index), expires_in: 3600 }))
      const directory = yield* tempDirectory
      const fleet = yield* Fleet.start(8, {
        tokenUrl: endpoint.url,
        store: { kind: "file", directory },
        refreshBufferMillis: 300_000
      })
      const first = yield* fleet.broadcast({ cmd: "get" })
      assert.deepStrictEqual(first.map((a) => a.ok && a.tokenHash), Array(8).fill(Fleet.tokenHash(issued(0))))
      assert.strictEqual((yield* endpoint.requests).length, 1)

      yield* fleet.broadcast({ cmd: "advance", millis: 3_301_000 })
      const second = yield* fleet.broadcast({ cmd: "get" })
      assert.deepStrictEqual(second.map((a) => a.ok && a.tokenHash), Array(8).fill(Fleet.tokenHash(issued(1))))
      assert.strictEqual((yield* endpoint.requests).length, 2)
    }).pipe(Effect.provide(TokenEndpoint.layer), Effect.scoped), 120_000)
})
