/**
 * `tokenlayer dev-server`: the test authorization server run by the command, for trying the shell flow
 * locally. What it prints is enough to get a token with `tokenlayer token` and call its API with
 * `tokenlayer header`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Cli from "./support/cli.js"

describe("tokenlayer dev-server", () => {
  it.live("prints the settings to use; token and header work against it", () =>
    Effect.gen(function*() {
      const box = yield* Cli.sandbox
      const server = yield* Cli.spawn(["dev-server", "--token-lifetime", "10m"], { env: box.env() })
      yield* server.waitForStdout(/export TOKENLAYER_CLIENT_SECRET=\S+\n[\s\S]*approve the code at \S+\n/)
      const printed = yield* server.waitForStdout(/[\s\S]+/)
      const settings: Record<string, string> = {}
      for (const [, name, value] of printed[0].matchAll(/^export (TOKENLAYER_\w+)=(\S+)$/gm)) settings[name!] = value!
      assert.deepStrictEqual(Object.keys(settings).sort(), [
        "TOKENLAYER_CLIENT_ID",
        "TOKENLAYER_CLIENT_SECRET",
        "TOKENLAYER_TOKEN_URL"
      ])
      assert.match(settings.TOKENLAYER_TOKEN_URL!, /^http:\/\/127\.0\.0\.1:\d+\/token$/)

      const token = yield* Cli.run(["token"], { env: box.env(settings) })
      assert.strictEqual(token.code, 0, token.stderr)
      const header = yield* Cli.run(["header"], { env: box.env(settings) })
      assert.strictEqual(header.stdout, `Authorization: Bearer ${token.stdout}`)
      const api = /curl -H "\$\(tokenlayer header\)" (\S+)/.exec(printed[0])![1]!
      const status = yield* Effect.promise(() =>
        fetch(api, { headers: { authorization: header.stdout.trim().slice("Authorization: ".length) } }).then((r) =>
          r.status
        )
      )
      assert.strictEqual(status, 200)
    }).pipe(Effect.scoped), 60_000)

  it.live("a bad --port or --token-lifetime is bad usage", () =>
    Effect.gen(function*() {
      const box = yield* Cli.sandbox
      const port = yield* Cli.run(["dev-server", "--port", "70000"], { env: box.env() })
      assert.strictEqual(port.code, 2)
      assert.match(port.stderr, /--port 70000 is not a whole number from 0 to 65535/)
      const lifetime = yield* Cli.run(["dev-server", "--token-lifetime", "soon"], { env: box.env() })
      assert.strictEqual(lifetime.code, 2)
      assert.match(lifetime.stderr, /--token-lifetime soon is not a duration/)
    }).pipe(Effect.scoped))
})
