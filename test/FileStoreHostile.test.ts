/**
 * The file store under hostile input: keys long enough to make a backtracking pattern take minutes.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as childProcess from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { RefreshPolicy, RetryPolicy, Token, TokenService, TokenStore } from "tokenlayer"
import { TestGrant } from "tokenlayer/testing"
import { launcher } from "./support/fleet.js"
import { oddKeys, suiteStart } from "./support/storeSuite.js"

/** A fresh temporary directory, removed with the scope. */
const temporaryRoot = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "tokenlayer-hostile-"))),
  (root) =>
    Effect.promise(async () => {
      // a directory given away, or made unreadable, is given back first so that it can be removed
      await fs.chown(root, process.getuid?.() ?? 0, process.getgid?.() ?? 0).catch(() => undefined)
      await fs.rm(root, { recursive: true, force: true })
    })
)

/** A private directory (0700, ours) in `root`. */
const privateDirectory = (root: string, name: string) =>
  Effect.promise(async () => {
    const directory = path.join(root, name)
    await fs.mkdir(directory, { recursive: true, mode: 0o700 })
    await fs.chmod(directory, 0o700)
    return directory
  })

const makeStore = (directory: string) => TokenStore.makeFile({ directory }).pipe(Effect.provide(NodeFileSystem.layer))

const start = TestClock.setTime(suiteStart)

describe("the file store in a hostile directory", () => {
  describe("file names of long keys", () => {
    /** How earlier versions named token files: existing files must keep their names. */
    const earlierName = (k: string): string => {
      const hash = crypto.createHash("sha256").update(k, "utf8").digest("hex").slice(0, 16)
      const slug = k
        .replace(/(^|;)[A-Za-z_]+=/g, "$1")
        .replace(/[A-Za-z][A-Za-z0-9+.-]*:\/\//g, "")
        .replace(/[^A-Za-z0-9._-]+/g, "_")
        .slice(0, 64)
        .replace(/^[._-]+|[._-]+$/g, "")
      return `${slug === "" ? "token" : slug}-${hash}.json`
    }

    it("are those of earlier versions, for the odd keys and 20,000 random ones made of separators", () => {
      const pieces = [
        "a",
        "Z",
        "_",
        "7",
        "+",
        ".",
        "-",
        ":",
        "/",
        "://",
        ";",
        "=",
        " ",
        "é",
        "🔑",
        "id=",
        ";x_y=",
        "https://"
      ]
      let seed = 42
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648
        return seed % n
      }
      const keys = [...oddKeys]
      for (let i = 0; i < 20_000; i++) {
        keys.push(Array.from({ length: random(24) }, () => pieces[random(pieces.length)]).join(""))
      }
      for (const k of keys) assert.strictEqual(TokenStore.fileName(k), earlierName(k), JSON.stringify(k))
    })

    const hashOf = (k: string) => crypto.createHash("sha256").update(k, "utf8").digest("hex").slice(0, 16)

    // a per-test bound, not a timing assertion: a quadratic name takes 5 s per 60,000 letters, and the
    // test's timeout is checked once it returns (its timer cannot fire while it computes)
    it("of 60,000 characters (a client id, a run of letters): named at once", () => {
      const clientId = "a".repeat(60_000)
      const grantKey = `grant=client_credentials;token_url=https://auth.example.com/token;client_id=${clientId}`
      assert.strictEqual(
        TokenStore.fileName(grantKey),
        `${`client_credentials_auth.example.com_token_${clientId}`.slice(0, 64)}-${hashOf(grantKey)}.json`
      )
      assert.strictEqual(TokenStore.fileName(clientId), `${"a".repeat(64)}-${hashOf(clientId)}.json`)
    }, 3_000)

    it.scoped(
      "a token service with a grant key of 60,000 characters gets its token at once",
      () =>
        Effect.gen(function*() {
          yield* start
          const root = yield* temporaryRoot
          const directory = yield* privateDirectory(root, "tokens")
          const store = yield* makeStore(directory)
          const token = yield* Effect.scoped(
            Effect.flatMap(TokenService.make().pipe(Effect.provideService(TokenStore.TokenStore, store)), (s) => s.get)
          )
          assert.isTrue(Token.sameAccessToken(token, yield* store.load(`client_id=${"a".repeat(60_000)}`)))
        }).pipe(
          Effect.provide(Layer.mergeAll(
            TestGrant.layer({ key: `client_id=${"a".repeat(60_000)}` }),
            RefreshPolicy.fixed("5 minutes"),
            RetryPolicy.none
          ))
        ),
      5_000
    )

    it.live(
      "of 1,000,000 characters: named by a process of its own before it is killed at 20 s",
      () =>
        Effect.gen(function*() {
          const { args } = yield* launcher("fileNameChild")
          const count = 1_000_000
          const result = yield* Effect.async<{ readonly name?: string; readonly failure?: string }>((resume) => {
            const child = childProcess.execFile(
              process.execPath,
              [...args, String(count), "a"],
              { timeout: 20_000, killSignal: "SIGKILL" },
              (error, stdout) =>
                resume(Effect.succeed(
                  error === null
                    ? JSON.parse(stdout)
                    : { failure: error.killed ? "killed after 20 s: not linear" : String(error) }
                ))
            )
            return Effect.sync(() => child.kill("SIGKILL"))
          })
          assert.isUndefined(result.failure)
          assert.strictEqual(result.name, `${"a".repeat(64)}-${hashOf("a".repeat(count))}.json`)
        }),
      60_000
    )
  })
})
