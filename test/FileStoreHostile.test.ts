/**
 * The file store in a hostile directory: token files and directories that are symbolic links or
 * belong to another user, lock paths that are not lock files (a FIFO, a link to `/dev/zero`, a
 * directory, a large file), and keys long enough to make a backtracking pattern take minutes.
 *
 * Real files in temporary directories, real links, a real FIFO (`mkfifo`), files given to another uid
 * with `chown` (as root only: those tests are skipped otherwise, as they say). Every wait on a store
 * operation is bounded in real time (`within`): an operation that blocks on a FIFO fails the test, and
 * a reader left blocked on the FIFO is let go when the test ends.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as childProcess from "node:child_process"
import * as crypto from "node:crypto"
import { constants as fsConstants } from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { RefreshPolicy, RetryPolicy, Token, TokenService, TokenStore } from "tokenlayer"
import type { TokenError } from "tokenlayer"
import { TestGrant } from "tokenlayer/testing"
import * as Files from "../src/internal/fileStoreFiles.js"
import { launcher } from "./support/fleet.js"
import { captureLogs } from "./support/logs.js"
import { fullToken, isDone, oddKeys, suiteStart } from "./support/storeSuite.js"
import { pollUntil } from "./support/tokenEndpoint.js"

const key = "grant=client_credentials;token_url=https://auth.example.com/oauth2/token;client_id=app"
const tokenName = TokenStore.fileName(key)
const lockName = tokenName.replace(/\.json$/, ".lock")

/** Root can give files away (`chown`); the tests of files of another user need it. */
const isRoot = typeof process.getuid === "function" && process.getuid() === 0
const otherUid = 65534 // nobody
const asRoot = `(as root only: chown to uid ${otherUid}${isRoot ? "" : "; skipped, this run is not root"})`

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

/** A store over the Node file system with some of its calls replaced. */
const makeStoreWith = (directory: string, replace: (node: Files.Access) => Partial<Files.Access>) =>
  TokenStore.makeFile({ directory }).pipe(
    Effect.provideService(Files.FileAccess, { ...Files.node, ...replace(Files.node) })
  )

/** A valid token file for `key` (0600, ours) in a directory of its own, as a store writes it: its path. */
const plantToken = (root: string, storeKey: string, accessToken: string) =>
  Effect.gen(function*() {
    const directory = yield* privateDirectory(root, `planted-${crypto.randomBytes(4).toString("hex")}`)
    yield* (yield* makeStore(directory)).save(storeKey, fullToken(accessToken, suiteStart))
    return path.join(directory, TokenStore.fileName(storeKey))
  })

const readText = (file: string) => Effect.promise(() => fs.readFile(file, "utf8"))
const lstatOf = (file: string) => Effect.promise(() => fs.lstat(file))
const listing = (directory: string) => Effect.promise(() => fs.readdir(directory).then((names) => names.sort()))

/**
 * Makes a FIFO at `file`; when the scope closes, opens it for writing (without waiting) and closes it,
 * so that a reader blocked on opening or reading it (a store that does not check what it opens) gets
 * its end of file instead of holding a thread of libuv's for good.
 */
const makeFifo = (file: string) =>
  Effect.gen(function*() {
    const made = childProcess.spawnSync("mkfifo", ["-m", "600", file], { timeout: 10_000 })
    assert.strictEqual(made.status, 0, `mkfifo: ${String(made.stderr)}`)
    yield* Effect.addFinalizer(() =>
      Effect.promise(() =>
        fs.open(file, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK).then((handle) => handle.close(), () => undefined)
      )
    )
  })

/**
 * Runs `effect` in a fiber of its own and waits for its end, at most `maxMillis` of real time: an
 * operation that blocks (on a FIFO, reading `/dev/zero`, or asleep on a Clock nobody moves) fails the
 * test instead of hanging it. A daemon fiber: nothing waits for it if it is stuck in I/O.
 */
const within = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>, maxMillis = 10_000) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkDaemon(effect)
    yield* pollUntil(what, isDone(fiber), maxMillis)
    return yield* Fiber.await(fiber)
  })

/** The `StoreError` an exit failed with (the test fails if it did not). */
const storeErrorOf = <A>(exit: Exit.Exit<A, unknown>): TokenError.StoreError => {
  assert.isTrue(Exit.isFailure(exit), `expected a StoreError, got ${String(exit)}`)
  const error = Exit.isFailure(exit) ? exit.cause : undefined
  const failure = error !== undefined && error._tag === "Fail" ? error.error : undefined
  assert.strictEqual((failure as { _tag?: unknown } | undefined)?._tag, "StoreError", String(exit))
  return failure as TokenError.StoreError
}

const start = TestClock.setTime(suiteStart)

describe("the file store in a hostile directory", () => {
  describe("a token file that is a symbolic link", () => {
    it.scoped("to another private token file of ours: refused, not followed (its token is not handed out)", () =>
      Effect.gen(function*() {
        yield* start
        const root = yield* temporaryRoot
        const directory = yield* privateDirectory(root, "tokens")
        const planted = yield* plantToken(root, key, "at-planted")
        const file = path.join(directory, tokenName)
        yield* Effect.promise(() => fs.symlink(planted, file))
        const error = storeErrorOf(yield* within("a load", (yield* makeStore(directory)).load(key)))
        assert.strictEqual(error.operation, "load")
        assert.include(error.message, `'${file}' is not a regular file but a symbolic link`)
        assert.include(error.message, `run: rm '${file}'`)
        assert.notInclude(JSON.stringify(error), "at-planted")
      }))

    it.scoped("dangling, or to a FIFO, or to /dev/zero: refused at once, nothing opened through it", () =>
      Effect.gen(function*() {
        yield* start
        const root = yield* temporaryRoot
        const fifo = path.join(root, "fifo")
        yield* makeFifo(fifo)
        for (const target of [path.join(root, "nothing-here"), fifo, "/dev/zero"]) {
          const directory = yield* privateDirectory(root, `tokens-${path.basename(target)}`)
          yield* Effect.promise(() => fs.symlink(target, path.join(directory, tokenName)))
          const error = storeErrorOf(
            yield* within(`a load through a link to ${target}`, (yield* makeStore(directory)).load(key))
          )
          assert.include(error.message, "symbolic link", target)
        }
      }))

    it.scoped("save replaces the link itself with a token file of ours; what it pointed to is untouched", () =>
      Effect.gen(function*() {
        yield* start
        const root = yield* temporaryRoot
        const directory = yield* privateDirectory(root, "tokens")
        const planted = yield* plantToken(root, key, "at-planted")
        const before = yield* readText(planted)
        const file = path.join(directory, tokenName)
        yield* Effect.promise(() => fs.symlink(planted, file))
        const store = yield* makeStore(directory)
        yield* store.save(key, fullToken("at-mine", suiteStart))
        assert.isTrue((yield* lstatOf(file)).isFile(), "a regular file where the link was")
        assert.strictEqual((yield* lstatOf(file)).mode & 0o777, 0o600)
        assert.strictEqual(yield* readText(planted), before)
        assert.strictEqual(Redacted.value((yield* store.load(key)).accessToken), "at-mine")
      }))

    it.scoped("remove deletes the link, not the file it points to", () =>
      Effect.gen(function*() {
        yield* start
        const root = yield* temporaryRoot
        const directory = yield* privateDirectory(root, "tokens")
        const planted = yield* plantToken(root, key, "at-planted")
        const before = yield* readText(planted)
        yield* Effect.promise(() => fs.symlink(planted, path.join(directory, tokenName)))
        yield* (yield* makeStore(directory)).remove(key)
        assert.deepStrictEqual(yield* listing(directory), [])
        assert.strictEqual(yield* readText(planted), before)
      }))

    it.scoped("a link planted at the name of a save's temporary file (a race) is not written through", () =>
      Effect.gen(function*() {
        yield* start
        const root = yield* temporaryRoot
        const directory = yield* privateDirectory(root, "tokens")
        const victim = path.join(yield* privateDirectory(root, "elsewhere"), "victim")
        yield* Effect.promise(() => fs.writeFile(victim, "victim", { mode: 0o600 }))
        // right before the temporary file is created, someone puts a link to the victim at its name
        const store = yield* makeStoreWith(directory, (nodeFs) => ({
          createExclusive: (file, mode, bytes, sync) =>
            Effect.zipRight(
              file.endsWith(".tmp") ? Effect.promise(() => fs.symlink(victim, file)) : Effect.void,
              nodeFs.createExclusive(file, mode, bytes, sync)
            )
        }))
        const error = yield* Effect.flip(store.save(key, fullToken("at-mine", suiteStart)))
        assert.strictEqual(error._tag, "StoreError")
        assert.include(error.message, "EEXIST")
        assert.strictEqual(yield* readText(victim), "victim")
      }))
  })

  describe("a token directory that is a symbolic link", () => {
    it.scoped("to a private directory of ours: refused by load, save, remove and lock; nothing done through it", () =>
      Effect.gen(function*() {
        yield* start
        const root = yield* temporaryRoot
        const planted = yield* plantToken(root, key, "at-planted")
        const target = path.dirname(planted)
        const before = yield* readText(planted)
        const directory = path.join(root, "tokens")
        yield* Effect.promise(() => fs.symlink(target, directory))
        const store = yield* makeStore(directory)
        const failures = [
          storeErrorOf(yield* within("a load", store.load(key))),
          storeErrorOf(yield* within("a save", store.save(key, fullToken("at-mine", suiteStart)))),
          storeErrorOf(yield* within("a remove", store.remove(key))),
          storeErrorOf(yield* within("a lock", TokenStore.withLock(store, key, Effect.void)))
        ]
        assert.deepStrictEqual(failures.map((error) => error.operation), ["load", "save", "remove", "lock"])
        for (const error of failures) {
          assert.include(error.message, `the token directory '${directory}' is a symbolic link`)
        }
        assert.deepStrictEqual(yield* listing(target), [tokenName])
        assert.strictEqual(yield* readText(planted), before)
      }))

    it.scoped("dangling: save and lock refuse it rather than create the directory it points to", () =>
      Effect.gen(function*() {
        yield* start
        const root = yield* temporaryRoot
        const target = path.join(root, "not-yet")
        const directory = path.join(root, "tokens")
        yield* Effect.promise(() => fs.symlink(target, directory))
        const store = yield* makeStore(directory)
        assert.include(
          storeErrorOf(yield* within("a save", store.save(key, fullToken("at", suiteStart)))).message,
          "is a symbolic link"
        )
        assert.include(
          storeErrorOf(yield* within("a lock", TokenStore.withLock(store, key, Effect.void))).message,
          "is a symbolic link"
        )
        assert.deepStrictEqual(yield* listing(root), ["tokens"])
      }))
  })

  describe(`files of another user ${asRoot}`, () => {
    it.scoped.skipIf(!isRoot)(
      "a token file of another user (0600, a valid token) is refused; save replaces it",
      () =>
        Effect.gen(function*() {
          yield* start
          const root = yield* temporaryRoot
          const planted = yield* plantToken(root, key, "at-planted")
          const directory = path.dirname(planted)
          yield* Effect.promise(() => fs.chown(planted, otherUid, otherUid))
          const store = yield* makeStore(directory)
          const error = storeErrorOf(yield* within("a load", store.load(key)))
          assert.include(error.message, `the token file '${planted}' is owned by uid ${otherUid}, not by uid 0`)
          assert.include(error.message, `run: chown 0 '${planted}'`)
          yield* store.save(key, fullToken("at-mine", suiteStart))
          assert.strictEqual((yield* lstatOf(planted)).uid, 0)
          assert.strictEqual(Redacted.value((yield* store.load(key)).accessToken), "at-mine")
        })
    )

    it.scoped.skipIf(!isRoot)(
      "a token directory of another user (0700) is refused by every operation",
      () =>
        Effect.gen(function*() {
          yield* start
          const root = yield* temporaryRoot
          const planted = yield* plantToken(root, key, "at-planted")
          const directory = path.dirname(planted)
          yield* Effect.promise(() => fs.chown(directory, otherUid, otherUid))
          const store = yield* makeStore(directory)
          const failures = [
            storeErrorOf(yield* within("a load", store.load(key))),
            storeErrorOf(yield* within("a save", store.save(key, fullToken("at-mine", suiteStart)))),
            storeErrorOf(yield* within("a remove", store.remove(key))),
            storeErrorOf(yield* within("a lock", TokenStore.withLock(store, key, Effect.void)))
          ]
          assert.deepStrictEqual(failures.map((error) => error.operation), ["load", "save", "remove", "lock"])
          for (const error of failures) {
            assert.include(error.message, `the token directory '${directory}' is owned by uid ${otherUid}`)
          }
          assert.deepStrictEqual(yield* listing(directory), [tokenName])
        })
    )

    it.scoped.skipIf(!isRoot)(
      "a lock file of another user is not a lock of ours: refused at once, left alone",
      () =>
        Effect.gen(function*() {
          yield* start
          const root = yield* temporaryRoot
          const directory = yield* privateDirectory(root, "tokens")
          const lock = path.join(directory, lockName)
          yield* Effect.promise(async () => {
            await fs.writeFile(lock, JSON.stringify({ pid: 1, host: os.hostname(), nonce: "x" }), { mode: 0o600 })
            await fs.chown(lock, otherUid, otherUid)
          })
          const error = storeErrorOf(
            yield* within("a lock", TokenStore.withLock(yield* makeStore(directory), key, Effect.void))
          )
          assert.strictEqual(error.operation, "lock")
          assert.include(error.message, `the lock file '${lock}' is owned by uid ${otherUid}`)
          assert.strictEqual((yield* lstatOf(lock)).uid, otherUid)
        })
    )
  })

  describe("a lock path that is not a lock file", () => {
    /** What is planted at the lock's path, and how the error names it. */
    const cases: ReadonlyArray<{
      readonly what: string
      readonly named: string
      readonly plant: (lock: string, root: string) => Effect.Effect<void, never, Scope.Scope>
    }> = [
      { what: "a FIFO", named: "is a FIFO", plant: (lock) => makeFifo(lock) },
      {
        what: "a symbolic link to /dev/zero",
        named: "is a symbolic link",
        plant: (lock) => Effect.promise(() => fs.symlink("/dev/zero", lock))
      },
      {
        what: "a symbolic link to a FIFO",
        named: "is a symbolic link",
        plant: (lock, root) =>
          Effect.zipRight(
            makeFifo(path.join(root, "fifo")),
            Effect.promise(() => fs.symlink(path.join(root, "fifo"), lock))
          )
      },
      {
        what: "a symbolic link to a live lock file (ours)",
        named: "is a symbolic link",
        plant: (lock, root) =>
          Effect.promise(async () => {
            const live = path.join(root, "live.lock")
            await fs.writeFile(live, JSON.stringify({ pid: process.pid, host: os.hostname(), nonce: "x" }), {
              mode: 0o600
            })
            await fs.symlink(live, lock)
          })
      },
      {
        what: "a dangling symbolic link",
        named: "is a symbolic link",
        plant: (lock, root) => Effect.promise(() => fs.symlink(path.join(root, "nothing-here"), lock))
      },
      {
        what: "a directory",
        named: "is a directory",
        plant: (lock) => Effect.promise(() => fs.mkdir(lock, { mode: 0o700 }))
      },
      {
        what: "a regular file of more than 4 KiB",
        named: "is larger than 4 KiB",
        plant: (lock) => Effect.promise(() => fs.writeFile(lock, " ".repeat(5000), { mode: 0o600 }))
      }
    ]

    for (const { named, plant, what } of cases) {
      it.scoped(`${what}: the lock fails at once (StoreError), never blocks, and it is left as it is`, () =>
        Effect.gen(function*() {
          yield* start
          const root = yield* temporaryRoot
          const directory = yield* privateDirectory(root, "tokens")
          const lock = path.join(directory, lockName)
          yield* plant(lock, root)
          const kind = (yield* lstatOf(lock)).mode & fsConstants.S_IFMT
          let ran = false
          const exit = yield* within(
            `the lock over ${what}`,
            TokenStore.withLock(yield* makeStore(directory), key, Effect.sync(() => void (ran = true)))
          )
          const error = storeErrorOf(exit)
          assert.strictEqual(error.operation, "lock")
          assert.include(error.message, `the lock file '${lock}' ${named}, not a lock file of this store`)
          assert.isFalse(ran, "the effect did not run")
          assert.strictEqual((yield* lstatOf(lock)).mode & fsConstants.S_IFMT, kind, "left as it is")
          assert.deepStrictEqual(yield* listing(directory), [lockName], "nothing else left behind")
        }))
    }

    it.scoped("a lock file replaced by a FIFO while held: release does not block, and says the lock is not ours", () =>
      Effect.gen(function*() {
        yield* start
        const root = yield* temporaryRoot
        const directory = yield* privateDirectory(root, "tokens")
        const lock = path.join(directory, lockName)
        const store = yield* makeStore(directory)
        const [exit, logs] = yield* captureLogs(within(
          "a lock whose file became a FIFO",
          TokenStore.withLock(
            store,
            key,
            Effect.zipRight(Effect.promise(() => fs.rm(lock)), makeFifo(lock)).pipe(Effect.scoped)
          )
        ))
        assert.deepStrictEqual(exit, Exit.void)
        assert.isTrue(logs.some((line) => line.includes("was taken over by another process")), logs.join("\n"))
        assert.isTrue((yield* lstatOf(lock)).isFIFO())
      }))
  })

  describe("under the token service: what is refused is worked around, and logged", () => {
    const Deps = Layer.mergeAll(
      TestGrant.layer({ lifetime: "1 hour" }),
      RefreshPolicy.fixed("5 minutes"),
      RetryPolicy.none
    )
    const getWith = (store: TokenStore.Service) =>
      Effect.scoped(
        Effect.flatMap(TokenService.make().pipe(Effect.provideService(TokenStore.TokenStore, store)), (s) => s.get)
      )

    // (a store that refuses at once is still asked to save: the fresh token replaces the link)
    it.scoped("a token file linked to another token file: its token is not handed out, a fresh one is fetched", () =>
      Effect.gen(function*() {
        yield* start
        const root = yield* temporaryRoot
        const directory = yield* privateDirectory(root, "tokens")
        const planted = yield* plantToken(root, "test", "at-planted")
        const before = yield* readText(planted)
        const file = path.join(directory, TokenStore.fileName("test"))
        yield* Effect.promise(() => fs.symlink(planted, file))
        const [exit, logs] = yield* captureLogs(within("a get", getWith(yield* makeStore(directory))))
        assert.isTrue(Exit.isSuccess(exit), String(exit))
        if (Exit.isSuccess(exit)) assert.strictEqual(Redacted.value(exit.value.accessToken), "test-access-token-1")
        assert.strictEqual(yield* TestGrant.requests, 1)
        assert.isTrue(
          logs.some((line) =>
            line.includes("level=WARN") && line.includes("symbolic link") && line.includes("fetching on our own")
          ),
          logs.join("\n")
        )
        assert.strictEqual(yield* readText(planted), before, "nothing written through the link")
        const replaced = yield* Effect.promise(() => fs.lstat(file))
        assert.isTrue(replaced.isFile(), "the fresh token replaced the link with a file of ours")
      }).pipe(Effect.provide(Deps)))

    it.scoped.skipIf(!isRoot)(
      `a token file of another user: its token is not handed out, a fresh one is fetched ${asRoot}`,
      () =>
        Effect.gen(function*() {
          yield* start
          const root = yield* temporaryRoot
          const planted = yield* plantToken(root, "test", "at-planted")
          yield* Effect.promise(() => fs.chown(planted, otherUid, otherUid))
          const store = yield* makeStore(path.dirname(planted))
          const [exit, logs] = yield* captureLogs(within("a get", getWith(store)))
          assert.isTrue(Exit.isSuccess(exit), String(exit))
          if (Exit.isSuccess(exit)) assert.strictEqual(Redacted.value(exit.value.accessToken), "test-access-token-1")
          assert.strictEqual(yield* TestGrant.requests, 1)
          assert.isTrue(
            logs.some((line) => line.includes("level=WARN") && line.includes(`owned by uid ${otherUid}`)),
            logs.join("\n")
          )
        }).pipe(Effect.provide(Deps))
    )

    it.scoped("a FIFO at the lock's path: get does not block; it fetches without the lock, and says so", () =>
      Effect.gen(function*() {
        yield* start
        const root = yield* temporaryRoot
        const directory = yield* privateDirectory(root, "tokens")
        yield* makeFifo(path.join(directory, TokenStore.fileName("test").replace(/\.json$/, ".lock")))
        const store = yield* makeStore(directory)
        const [exit, logs] = yield* captureLogs(within("a get", getWith(store)))
        assert.isTrue(Exit.isSuccess(exit), String(exit))
        assert.strictEqual(yield* TestGrant.requests, 1)
        assert.isTrue(
          logs.some((line) => line.includes("is a FIFO") && line.includes("fetching without the store's lock")),
          logs.join("\n")
        )
        assert.strictEqual(Redacted.value((yield* store.load("test")).accessToken), "test-access-token-1")
      }).pipe(Effect.provide(Deps)))
  })

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
