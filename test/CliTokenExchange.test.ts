/**
 * `tokenlayer header` with a token exchange profile, the built command as a child process against
 * AuthServer (real HTTP on 127.0.0.1, the real clock): a CI job's subject token in a file, no stored
 * secret; the file named by the profile, by `--subject-token-file` or by `TOKENLAYER_SUBJECT_TOKEN_FILE`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Jose from "jose"
import * as fs from "node:fs"
import * as path from "node:path"
import { AuthServer } from "tokenlayer/testing"
import * as Cli from "./support/cli.js"

const CI = "https://token.actions.example.com"
const CI_KEY = "the-ci-systems-signing-key-for-tests"

const Server = AuthServer.layer({
  clients: [{ id: "deployer", method: "none", tokenLifetime: "1 hour" }],
  tokenExchange: { audiences: ["deploy-api"], trustedIssuers: [{ issuer: CI, secret: CI_KEY, audiences: ["sts"] }] }
})

const ciToken = (sub: string) =>
  Effect.flatMap(
    Clock.currentTimeMillis,
    (now) =>
      Effect.promise(() =>
        new Jose.SignJWT({ sub }).setProtectedHeader({ alg: "HS256" }).setIssuer(CI).setAudience("sts")
          .setIssuedAt(Math.floor(now / 1000)).setExpirationTime(Math.floor(now / 1000) + 1800)
          .sign(new TextEncoder().encode(CI_KEY))
      )
  )

describe("tokenlayer header with a token exchange profile", () => {
  it.live("--subject-token-file, the profile's subjectTokenFile, TOKENLAYER_SUBJECT_TOKEN_FILE: no secret", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      const file = path.join(box.stateDir, "..", "ci-token")
      const subject = yield* ciToken("repo:acme/app:ref:refs/heads/main")
      fs.writeFileSync(file, subject, { mode: 0o600 })
      yield* box.writeConfig({
        profiles: {
          deploy: {
            grant: "token_exchange",
            tokenUrl: server.tokenUrl,
            clientId: "deployer",
            clientAuth: "none",
            audience: "deploy-api",
            subjectTokenFile: file
          },
          bare: { grant: "token_exchange", tokenUrl: server.tokenUrl, clientId: "deployer", clientAuth: "none" }
        }
      })
      const header = yield* Cli.run(["header", "-p", "deploy"], { env: box.env({}) })
      assert.strictEqual(header.code, 0, header.stderr)
      const [issued] = (yield* AuthServer.tokens).filter((t) => t.clientId === "deployer")
      assert.strictEqual(header.stdout, `Authorization: Bearer ${Redacted.value(issued!.accessToken)}\n`)
      assert.deepStrictEqual(issued!.exchange?.audience, ["deploy-api"])
      assert.strictEqual(issued!.exchange?.subject, "repo:acme/app:ref:refs/heads/main")
      // capped by the subject token's 30 minutes
      assert.isAtMost(issued!.expiresAt.epochMillis - issued!.issuedAt.epochMillis, 1800 * 1000)

      // the file from a flag, then from the variable (another cache entry: the file names the token)
      const other = path.join(box.stateDir, "..", "other-token")
      fs.writeFileSync(other, yield* ciToken("repo:acme/other"), { mode: 0o600 })
      const byFlag = yield* Cli.run(
        ["token", "-p", "bare", "--subject-token-file", other, "--audience", "deploy-api"],
        { env: box.env({}) }
      )
      assert.strictEqual(byFlag.code, 0, byFlag.stderr)
      assert.strictEqual((yield* AuthServer.tokens).at(-1)!.exchange?.subject, "repo:acme/other")
      const byEnv = yield* Cli.run(["token", "-p", "bare", "--audience", "deploy-api"], {
        env: box.env({ TOKENLAYER_SUBJECT_TOKEN_FILE: other })
      })
      assert.strictEqual(byEnv.code, 0, byEnv.stderr)
      assert.strictEqual(byEnv.stdout, byFlag.stdout)

      // no subject token file: said so, nothing sent
      const before = (yield* server.stats).tokenRequests
      const missing = yield* Cli.run(["token", "-p", "bare"], { env: box.env({}) })
      assert.notStrictEqual(missing.code, 0)
      assert.include(missing.stderr, "subject token file")
      // a file that is gone: the path named, never a token
      const gone = yield* Cli.run(["token", "-p", "bare", "--subject-token-file", `${file}.gone`], {
        env: box.env({})
      })
      assert.notStrictEqual(gone.code, 0)
      assert.include(gone.stderr, `${file}.gone`)
      assert.notInclude(gone.stderr + gone.stdout, subject)
      assert.strictEqual((yield* server.stats).tokenRequests, before)
    }).pipe(Effect.scoped, Effect.provide(Server)))
})
