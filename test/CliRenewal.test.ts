/**
 * `tokenlayer token` when the token endpoint goes down while the cached token is due but still valid:
 * as the library does, the command serves the cached token (stdout, a warning on stderr, exit 0)
 * exactly until it expires; after that, the typed failure (exit 5, the server could not be reached).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { AuthServer } from "tokenlayer/testing"
import * as Cli from "./support/cli.js"

const secret = "s3cret-for-the-renewal-tests"

describe("tokenlayer token, the token endpoint down", () => {
  it.live(
    "a due token is printed with a warning until it expires; after, the typed failure",
    () =>
      Effect.gen(function*() {
        const box = yield* Cli.sandbox
        // the server in a scope of its own, closed below: its port then refuses connections
        const serverScope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          AuthServer.layer({ clients: [{ id: "app", secret }], tokenLifetime: "1 hour" }),
          serverScope
        )
        const server = yield* Effect.provide(AuthServer.AuthServer, context)
        const env = (offset?: string) =>
          box.env({
            TOKENLAYER_TOKEN_URL: server.tokenUrl,
            TOKENLAYER_CLIENT_ID: "app",
            TOKENLAYER_CLIENT_SECRET: secret,
            TOKENLAYER_BUFFER: "5m",
            ...(offset === undefined ? {} : { TOKENLAYER_CLOCK_OFFSET: offset })
          })

        const first = yield* Cli.run(["token"], { env: env() })
        assert.strictEqual(first.code, 0, first.stderr)
        yield* Scope.close(serverScope, Exit.void)

        // 59m41s later: 19 s left, due (the buffer is 5 minutes), the server gone
        const due = yield* Cli.run(["token"], { env: env("59m41s") })
        assert.strictEqual(due.code, 0, due.stderr)
        assert.strictEqual(due.stdout, first.stdout)
        assert.match(due.stderr, /^tokenlayer: warning: .*could not be renewed.*still valid for 1\ds/)
        assert.isFalse(due.stderr.includes(first.stdout.trim()))
        const header = yield* Cli.run(["header"], { env: env("59m41s") })
        assert.strictEqual(header.code, 0, header.stderr)
        assert.strictEqual(header.stdout, `Authorization: Bearer ${first.stdout}`)

        // past its expiry: never printed; the server could not be reached
        const expired = yield* Cli.run(["token"], { env: env("60m1s") })
        assert.strictEqual(expired.code, 5, expired.stderr)
        assert.strictEqual(expired.stdout, "")
        assert.match(expired.stderr, /could not be reached/)
        assert.notMatch(expired.stderr, /warning/)
      }).pipe(Effect.scoped),
    120_000
  )
})
