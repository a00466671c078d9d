/**
 * The README's DPoP example (scratchpad/readme/dpop.ts), run against the DPoP server of
 * test/support/dpopServer.ts, nonces on, over real HTTP on 127.0.0.1.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { ApiLive, contracts } from "../scratchpad/readme/dpop.js"
import * as DpopServer from "./support/dpopServer.js"

describe("README: DPoP", () => {
  it.scoped("the example's API calls carry DPoP-bound tokens and proofs the server accepts", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      const server = yield* DpopServer.start({
        now: () => clock.unsafeCurrentTimeMillis(),
        tokenNonce: "on",
        apiNonce: "on"
      })
      const body = yield* contracts(server.apiUrl).pipe(Effect.provide(ApiLive(server.tokenUrl, Redacted.make("s"))))
      assert.deepStrictEqual(body, { ok: true })
      assert.strictEqual(server.counts.tokenNonceAsked, 1)
      assert.isTrue(server.proofs.filter((p) => p.where === "api").every((p) => p.ok))
    }))
})
