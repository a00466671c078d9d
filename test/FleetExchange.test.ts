/**
 * A fleet of 8 processes sharing Redis, each exchanging the same subject token (a file every process
 * reads) by RFC 8693 token exchange: one exchange per token lifetime for the whole fleet, each carrying
 * the subject token read from the file.
 */
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describeRedis } from "./support/describeRedis.js"
import * as Fleet from "./support/fleet.js"
import * as RedisServer from "./support/redisServer.js"
import * as TokenEndpoint from "./support/tokenEndpoint.js"

const issued = (index: number): string => `fleet-exchanged-token-${index}`

describeRedis("a fleet of 8 processes exchanging the same subject token, sharing Redis", () => {
  it.live("cold start: exactly 1 exchange; once the token is due: exactly 1 more", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "tokenlayer-fleet-exchange-"))),
        (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
      )
      const file = path.join(dir, "subject-token")
      fs.writeFileSync(file, "subject-token-of-the-fleet\n", { mode: 0o600 })
      const server = yield* RedisServer.start()
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond((_, index) =>
        TokenEndpoint.tokenReply({
          access_token: issued(index),
          expires_in: 3600,
          issued_token_type: "urn:ietf:params:oauth:token-type:access_token"
        })
      )
      const fleet = yield* Fleet.start(8, {
        tokenUrl: endpoint.url,
        subjectTokenFile: file,
        store: { kind: "redis", url: server.url, prefix: "fleet-exchange:" },
        refreshBufferMillis: 300_000
      })
      const hashes = (answers: ReadonlyArray<Fleet.Answer>) => answers.map((a) => a.ok && a.tokenHash)

      const first = yield* fleet.broadcast({ cmd: "get" })
      assert.deepStrictEqual(hashes(first), Array(8).fill(Fleet.tokenHash(issued(0))))
      assert.strictEqual((yield* endpoint.requests).length, 1)

      yield* fleet.broadcast({ cmd: "advance", millis: 3_301_000 })
      const second = yield* fleet.broadcast({ cmd: "get" })
      assert.deepStrictEqual(hashes(second), Array(8).fill(Fleet.tokenHash(issued(1))))
      const requests = yield* endpoint.requests
      assert.strictEqual(requests.length, 2)
      for (const request of requests) {
        assert.strictEqual(request.form.get("grant_type"), "urn:ietf:params:oauth:grant-type:token-exchange")
        assert.strictEqual(request.form.get("subject_token"), "subject-token-of-the-fleet")
        assert.strictEqual(request.form.get("audience"), "fleet-api")
      }
    }).pipe(Effect.provide(TokenEndpoint.layer), Effect.scoped), 120_000)
})
