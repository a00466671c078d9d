/**
 * `tokenlayer profile add | list | remove`, the built command run as a child process: the config file
 * at `$XDG_CONFIG_HOME/tokenlayer/config.json` (or `~/.config/...`, or `--config`), written 0600;
 * secrets only named (`--secret-env`, `--secret-file`) or piped (`--secret-stdin`, kept in a 0600 file);
 * a profile used by `token` right after it is added; `remove` takes its cached token and kept secret.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { AuthServer } from "tokenlayer/testing"
import * as Cli from "./support/cli.js"

const secret = "profile-test-secret-42"

const Server = AuthServer.layer({
  clients: [{ id: "reports", secret, method: "client_secret_post" }],
  serviceAccounts: [{ keyId: "dt-key", email: "robot@project.serviceaccount.example", secret: "dt-hmac-secret" }]
})

const readConfig = (file: string): { default?: string; profiles: Record<string, Record<string, unknown>> } =>
  JSON.parse(fs.readFileSync(file, "utf8"))

describe("tokenlayer profile", () => {
  it.live("add, list, use, remove", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      const env = box.env({ REPORTS_SECRET: secret })

      const added = yield* Cli.run([
        "profile",
        "add",
        "reports",
        "--token-url",
        server.tokenUrl,
        "--client-id",
        "reports",
        "--client-auth",
        "post",
        "--secret-env",
        "REPORTS_SECRET",
        "--scope",
        "read write",
        "--buffer",
        "30s"
      ], { env })
      assert.strictEqual(added.code, 0, added.stderr)
      assert.match(added.stderr, /^tokenlayer: profile reports added to '.+config\.json' \(the default\)\n$/)
      assert.strictEqual(fs.statSync(box.configFile).mode & 0o777, 0o600)
      assert.strictEqual(fs.statSync(path.dirname(box.configFile)).mode & 0o777, 0o700)
      assert.deepStrictEqual(readConfig(box.configFile), {
        default: "reports",
        profiles: {
          reports: {
            tokenUrl: server.tokenUrl,
            clientId: "reports",
            clientAuth: "post",
            scope: "read write",
            buffer: "30s",
            secretEnv: "REPORTS_SECRET"
          }
        }
      })

      // a second profile, its secret piped in and kept in a 0600 file next to the config
      const piped = yield* Cli.run([
        "profile",
        "add",
        "dt",
        "--grant",
        "jwt_bearer",
        "--token-url",
        server.tokenUrl,
        "--key-id",
        "dt-key",
        "--assertion-issuer",
        "robot@project.serviceaccount.example",
        "--client-auth",
        "none",
        "--secret-stdin"
      ], { env, stdin: "dt-hmac-secret\n" })
      assert.strictEqual(piped.code, 0, piped.stderr)
      const secretFile = readConfig(box.configFile).profiles.dt!.secretFile as string
      assert.strictEqual(fs.statSync(secretFile).mode & 0o777, 0o600)
      assert.strictEqual(fs.readFileSync(secretFile, "utf8"), "dt-hmac-secret\n")
      assert.isFalse(fs.readFileSync(box.configFile, "utf8").includes("dt-hmac-secret"))

      // adding a name twice needs --force
      const again = yield* Cli.run(["profile", "add", "dt", "--token-url", server.tokenUrl], { env })
      assert.strictEqual(again.code, 3)
      assert.match(again.stderr, /profile dt exists in '.+': add --force to replace it/)

      const list = yield* Cli.run(["profile", "list"], { env })
      assert.strictEqual(list.code, 0, list.stderr)
      const lines = list.stdout.trimEnd().split("\n")
      assert.strictEqual(lines.length, 2)
      assert.match(lines[0]!, /^ {2}dt +jwt_bearer +\S+\/token +robot@project\.serviceaccount\.example$/)
      assert.match(lines[1]!, /^\* reports +client_credentials +\S+\/token +reports +read write$/)
      const json = JSON.parse((yield* Cli.run(["profile", "list", "--json"], { env })).stdout)
      assert.strictEqual(json.default, "reports")
      assert.deepStrictEqual(Object.keys(json.profiles).sort(), ["dt", "reports"])

      // both profiles get tokens: the default one, and the JWT bearer grant (Disruptive Technologies' flow)
      const reports = yield* Cli.run(["token"], { env })
      assert.strictEqual(reports.code, 0, reports.stderr)
      const dt = yield* Cli.run(["token", "--profile", "dt"], { env })
      assert.strictEqual(dt.code, 0, dt.stderr)
      const grants = (yield* server.tokens).map((t) => `${t.clientId} ${t.grantType} ${t.scope.join(" ")}`)
      assert.deepStrictEqual(grants, [
        "reports client_credentials read write",
        "robot@project.serviceaccount.example urn:ietf:params:oauth:grant-type:jwt-bearer "
      ])
      assert.strictEqual((yield* box.stateFiles).filter((f) => f.endsWith(".json")).length, 2)

      // remove: the profile, its cached token, the secret file add kept
      const removed = yield* Cli.run(["profile", "remove", "dt"], { env })
      assert.strictEqual(removed.code, 0, removed.stderr)
      assert.match(removed.stderr, /^tokenlayer: profile dt removed from '.+', with its cached token\n$/)
      assert.isFalse(fs.existsSync(secretFile))
      assert.deepStrictEqual(Object.keys(readConfig(box.configFile).profiles), ["reports"])
      assert.strictEqual((yield* box.stateFiles).filter((f) => f.endsWith(".json")).length, 1)
      const missing = yield* Cli.run(["profile", "remove", "dt"], { env })
      assert.strictEqual(missing.code, 3)
      assert.match(missing.stderr, /no profile dt in '.+': see tokenlayer profile list/)

      // the default one removed: no default left
      yield* Cli.run(["profile", "remove", "reports"], { env })
      assert.deepStrictEqual(readConfig(box.configFile), { profiles: {} })
      const empty = yield* Cli.run(["profile", "list"], { env })
      assert.strictEqual(empty.code, 0)
      assert.strictEqual(empty.stdout, "")
      assert.match(empty.stderr, /no profiles in '.+': add one with tokenlayer profile add NAME/)
    }).pipe(Effect.scoped, Effect.provide(Server)), 60_000)

  it.live("where the config file is: XDG_CONFIG_HOME, else ~/.config, else --config or TOKENLAYER_CONFIG", () =>
    Effect.gen(function*() {
      const box = yield* Cli.sandbox
      const add = (env: Record<string, string>, ...extra: ReadonlyArray<string>) =>
        Cli.run(["profile", "add", "p", "--token-url", "https://auth.example.com/token", ...extra], { env })
      // no XDG_CONFIG_HOME: ~/.config/tokenlayer/config.json
      const { XDG_CONFIG_HOME: _, ...withoutXdg } = box.env()
      assert.strictEqual((yield* add(withoutXdg)).code, 0)
      assert.isTrue(fs.existsSync(path.join(box.root, "home", ".config", "tokenlayer", "config.json")))
      // XDG_CONFIG_HOME
      assert.strictEqual((yield* add(box.env())).code, 0)
      assert.isTrue(fs.existsSync(box.configFile))
      // a relative XDG_CONFIG_HOME is ignored (XDG Base Directory), as the file store does for XDG_STATE_HOME
      const relative = yield* Cli.run(["profile", "list", "--json"], { env: { ...withoutXdg, XDG_CONFIG_HOME: "rel" } })
      assert.strictEqual(
        JSON.parse(relative.stdout).file,
        path.join(box.root, "home", ".config", "tokenlayer", "config.json")
      )
      // --config and TOKENLAYER_CONFIG
      const own = path.join(box.root, "elsewhere", "tokenlayer.json")
      assert.strictEqual((yield* add(box.env(), "--config", own)).code, 0)
      const listed = yield* Cli.run(["profile", "list"], { env: box.env({ TOKENLAYER_CONFIG: own }) })
      assert.match(listed.stdout, /^\* p +client_credentials +https:\/\/auth\.example\.com\/token/)
    }).pipe(Effect.scoped))

  it.live("a URL with credentials is refused, at profile add and from the environment, and never shown", () =>
    Effect.gen(function*() {
      const box = yield* Cli.sandbox
      const withPassword = "https://robot:hunter2-url-pass@auth.example.com/token"
      const added = yield* Cli.run(["profile", "add", "p", "--token-url", withPassword], { env: box.env() })
      assert.notStrictEqual(added.code, 0)
      assert.match(added.stderr, /holds credentials/)
      assert.isFalse(fs.existsSync(box.configFile) && fs.readFileSync(box.configFile, "utf8").includes("hunter2"))
      const token = yield* Cli.run(["token", "--client-id", "x"], {
        env: box.env({ TOKENLAYER_TOKEN_URL: withPassword, TOKENLAYER_CLIENT_SECRET: "s" })
      })
      // a bad value of a variable is bad usage, as the same value of a flag is
      assert.strictEqual(token.code, 2)
      assert.match(token.stderr, /holds credentials.*\(from TOKENLAYER_TOKEN_URL\)/)
      for (const output of [added.stdout, added.stderr, token.stdout, token.stderr]) {
        assert.notInclude(output, "hunter2-url-pass")
      }
    }).pipe(Effect.scoped))
})
