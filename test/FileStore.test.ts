import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as childProcess from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { RefreshPolicy, RetryPolicy, Token, TokenService, TokenStore } from "tokenlayer"
import { TestGrant } from "tokenlayer/testing"
import * as Files from "../src/internal/fileStoreFiles.js"
import * as FileStore from "../src/TokenStore/File.js"
import { captureLogs } from "./support/logs.js"
import { assertSameToken, driveJoin, fullToken, idle, isDone, oddKeys, suiteStart } from "./support/storeSuite.js"
import { pollUntil } from "./support/tokenEndpoint.js"

/** A fresh temporary directory (removed with the scope) and, inside it, the store's directory. */
const tokenDirectory = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "tokenlayer-file-"))),
  (root) => Effect.promise(() => fs.rm(root, { recursive: true, force: true }))
).pipe(Effect.map((root) => path.join(root, "state", "tokens")))

const makeStore = (directory: string, options: Omit<TokenStore.FileOptions, "directory"> = {}) =>
  TokenStore.makeFile({ directory, ...options }).pipe(Effect.provide(NodeFileSystem.layer))

/** A store over the Node file system with some of its calls replaced. */
const makeStoreWith = (directory: string, replace: (node: Files.Access) => Partial<Files.Access>) =>
  TokenStore.makeFile({ directory }).pipe(
    Effect.provideService(Files.FileAccess, { ...Files.node, ...replace(Files.node) })
  )

const mode = (file: string) => Effect.promise(() => fs.stat(file).then((info) => info.mode & 0o777))
const listing = (directory: string) => Effect.promise(() => fs.readdir(directory).then((names) => names.sort()))

/** The pid of a process that has ended. */
const deadPid = (): number => {
  // bounded: a hung spawn must not hang the run (also called while the tests are collected); a child
  // killed at the timeout has ended all the same
  const child = childProcess.spawnSync(process.execPath, ["-e", "0"], { timeout: 10_000 })
  return child.pid!
}

const plantLock = (directory: string, key: string, content: string, modifiedAt: number) =>
  Effect.promise(async () => {
    await fs.mkdir(directory, { recursive: true, mode: 0o700 })
    const file = path.join(directory, TokenStore.fileName(key).replace(/\.json$/, ".lock"))
    await fs.writeFile(file, content, { mode: 0o600 })
    await fs.utimes(file, modifiedAt / 1000, modifiedAt / 1000)
    return file
  })

const ownerContent = (pid: number, host = os.hostname()) =>
  `${JSON.stringify({ pid, host, nonce: "planted", acquiredAt: new Date(suiteStart).toISOString() })}\n`

const start = TestClock.setTime(suiteStart)

/**
 * Like `idle(steps)`, but after every step waits, in real time and with the Clock standing still, until
 * `sleepers` fibers sleep on the TestClock again (or `fiber` has ended): their file I/O is over.
 * TestClock.adjust does not wait for I/O (a fiber waiting on a file operation counts as suspended), and
 * on a loaded machine a look at the lock file may take any number of steps.
 */
const idleSettled = (
  steps: number,
  sleepers: number,
  fiber: Fiber.Fiber<unknown, unknown>,
  step: Duration.DurationInput = "10 millis"
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const settled = Effect.zipWith(
      isDone(fiber),
      TestClock.sleeps(),
      (done, sleeps) => done || sleeps.length >= sleepers
    )
    for (let i = 0; i < steps; i++) {
      yield* TestClock.adjust(step)
      yield* pollUntil(`${sleepers} fiber(s) to wait on the Clock again, their file I/O over`, settled)
    }
  })

const key = "grant=client_credentials;token_url=https://auth.example.com/oauth2/token;client_id=app"

describe("TokenStore.layerFile", () => {
  describe("files", () => {
    it("names: a readable slug and a hash, never a path separator, unique, short", () => {
      const names = oddKeys.map(TokenStore.fileName)
      assert.strictEqual(new Set(names).size, oddKeys.length)
      for (const name of names) {
        assert.match(name, /^[A-Za-z0-9._-]+-[0-9a-f]{16}\.json$/)
        assert.isFalse(name.startsWith("."), name)
        assert.isAtMost(Buffer.byteLength(name), 100)
      }
      assert.strictEqual(TokenStore.fileName(key), TokenStore.fileName(key))
      assert.isTrue(
        TokenStore.fileName(key).startsWith("client_credentials_auth.example.com_oauth2_token_app-")
      )
      assert.match(TokenStore.fileName(""), /^token-[0-9a-f]{16}\.json$/)
      assert.strictEqual(
        TokenStore.fileName("grant=client_credentials;token_url=https://auth.example.com/token;client_id=app"),
        "client_credentials_auth.example.com_token_app-a0380a8796e275cf.json"
      )
    })

    it.scoped("TokenStore/File's layer is TokenStore.layerFile, with no FileSystem to provide", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const token = fullToken("at-through-file", suiteStart)
        yield* Effect.flatMap(TokenStore.TokenStore, (store) => store.save(key, token)).pipe(
          Effect.provide(FileStore.layer({ directory }))
        )
        const loaded = yield* Effect.flatMap(TokenStore.TokenStore, (store) => store.load(key)).pipe(
          Effect.provide(TokenStore.layerFile({ directory }))
        )
        assertSameToken(loaded, token)
        assert.strictEqual(FileStore.fileName(key), TokenStore.fileName(key))
        assertSameToken(yield* (yield* FileStore.make({ directory })).load(key), token)
      }))

    it.scoped("a token file holds seed 004's field names (and issued_at), one file per key, no leftovers", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const store = yield* makeStore(directory)
        const token = fullToken("at-on-disk", suiteStart)
        yield* store.save(key, token)
        assert.deepStrictEqual(yield* listing(directory), [TokenStore.fileName(key)])
        const json = JSON.parse(
          yield* Effect.promise(() => fs.readFile(path.join(directory, TokenStore.fileName(key)), "utf8"))
        )
        assert.deepStrictEqual(json, {
          access_token: "at-on-disk",
          token_type: "Bearer",
          expires_in: 3600,
          refresh_token: "refresh-at-on-disk",
          scope: "read write admin:org",
          expires_at: "2026-01-01T01:00:00.000Z",
          issued_at: "2026-01-01T00:00:00.000Z"
        })
      }))

    it.scoped("reads a token file written by another implementation of seed 004 (no issued_at, nulls)", () =>
      Effect.gen(function*() {
        const directory = yield* tokenDirectory
        const store = yield* makeStore(directory)
        yield* Effect.promise(async () => {
          await fs.mkdir(directory, { recursive: true, mode: 0o700 })
          await fs.writeFile(
            path.join(directory, TokenStore.fileName(key)),
            JSON.stringify({
              access_token: "at-from-python",
              token_type: "bearer",
              expires_in: 3600,
              refresh_token: null,
              scope: "",
              expires_at: "2026-01-01T01:00:00Z"
            }),
            { mode: 0o600 }
          )
        })
        const token = yield* store.load(key)
        assert.strictEqual(Redacted.value(token.accessToken), "at-from-python")
        assert.strictEqual(token.tokenType, "Bearer")
        assert.isUndefined(token.refreshToken)
        assert.strictEqual(token.issuedAt.epochMillis, suiteStart)
        assert.strictEqual(token.expiresAt?.epochMillis, suiteStart + 3_600_000)
      }))

    it.scoped("modes: the directory (and its missing parents) 0700, the file 0600 after every write, whatever the umask", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const store = yield* makeStore(directory)
        const previous = process.umask(0)
        yield* Effect.addFinalizer(() => Effect.sync(() => process.umask(previous)))
        for (let i = 0; i < 5; i++) {
          yield* store.save(key, fullToken(`at-${i}`, suiteStart + i))
          assert.strictEqual(yield* mode(directory), 0o700)
          assert.strictEqual(yield* mode(path.dirname(directory)), 0o700)
          assert.strictEqual(yield* mode(path.join(directory, TokenStore.fileName(key))), 0o600)
        }
      }))

    it.scoped("Corrupted carries the path, never the content", () =>
      Effect.gen(function*() {
        const directory = yield* tokenDirectory
        const store = yield* makeStore(directory)
        const file = path.join(directory, TokenStore.fileName(key))
        yield* Effect.promise(async () => {
          await fs.mkdir(directory, { recursive: true, mode: 0o700 })
          await fs.writeFile(file, "{\"access_token\":\"at-very-secret\",", { mode: 0o600 })
        })
        const error = yield* Effect.flip(store.load(key))
        assert.strictEqual(error._tag, "Corrupted")
        assert.strictEqual(error._tag === "Corrupted" && error.path, file)
        assert.include(error.message, file)
        assert.notInclude(`${error.message} ${JSON.stringify(error)}`, "very-secret")
      }))

    it.scoped("a file of more than 1 MiB is Corrupted without being read whole", () =>
      Effect.gen(function*() {
        const directory = yield* tokenDirectory
        const store = yield* makeStore(directory)
        yield* Effect.promise(async () => {
          await fs.mkdir(directory, { recursive: true, mode: 0o700 })
          await fs.writeFile(path.join(directory, TokenStore.fileName(key)), "x".repeat(2 * 1024 * 1024), {
            mode: 0o600
          })
        })
        const error = yield* Effect.flip(store.load(key))
        assert.strictEqual(error._tag, "Corrupted")
        assert.include(error.message, "1 MiB")
      }))

    it.scoped("scratch files left by killed processes change nothing, and the next save deletes them (theirs only)", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const store = yield* makeStore(directory)
        yield* store.save(key, fullToken("at-whole", suiteStart))
        const base = TokenStore.fileName(key).replace(/\.json$/, "")
        const otherBase = TokenStore.fileName(`${key}-other`).replace(/\.json$/, "")
        const host = crypto.createHash("sha256").update(os.hostname(), "utf8").digest("hex").slice(0, 8)
        const otherHost = host === "00000000" ? "11111111" : "00000000"
        const dead = deadPid()
        const gone = [
          `.${base}.${host}.${dead}.0000.tmp`,
          `.${base}.${host}.${dead}.0001.new`,
          `.${base}.${host}.${dead}.0002.stale`
        ]
        const kept = [
          `.${base}.${host}.${process.ppid}.0003.tmp`, // a live process (vitest's): still writing
          `.${base}.${otherHost}.${dead}.0004.tmp`, // another host's process: no telling whether it lives
          `.${otherBase}.${host}.${dead}.0005.tmp` // another key's: swept by its own saves
        ]
        yield* Effect.promise(() =>
          Promise.all(
            [...gone, ...kept].map((name) => fs.writeFile(path.join(directory, name), "{\"access_t", { mode: 0o600 }))
          )
        )
        assert.strictEqual(Redacted.value((yield* store.load(key)).accessToken), "at-whole")

        yield* store.save(key, fullToken("at-next", suiteStart))
        assert.deepStrictEqual(yield* listing(directory), [...kept, TokenStore.fileName(key)].sort())
        assert.strictEqual(Redacted.value((yield* store.load(key)).accessToken), "at-next")
      }))
  })

  describe("permissions", () => {
    it.scoped("a token file that others can read is refused, with the chmod that fixes it", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const store = yield* makeStore(directory)
        yield* store.save(key, fullToken("at-exposed", suiteStart))
        const file = path.join(directory, TokenStore.fileName(key))
        for (const [bits, shown] of [[0o644, "0644"], [0o640, "0640"], [0o604, "0604"]] as const) {
          yield* Effect.promise(() => fs.chmod(file, bits))
          const error = yield* Effect.flip(store.load(key))
          assert.strictEqual(error._tag, "StoreError")
          assert.strictEqual(error._tag === "StoreError" && error.operation, "load")
          assert.include(error.message, `permissions ${shown} for '${file}' are too open`)
          assert.include(error.message, `run: chmod 600 '${file}'`)
        }
        yield* Effect.promise(() => fs.chmod(file, 0o600))
        assert.strictEqual(Redacted.value((yield* store.load(key)).accessToken), "at-exposed")
      }))

    it.scoped("saving over a token file that others could read replaces it with a private one", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const store = yield* makeStore(directory)
        yield* store.save(key, fullToken("at-old", suiteStart))
        const file = path.join(directory, TokenStore.fileName(key))
        yield* Effect.promise(() => fs.chmod(file, 0o644))
        yield* store.save(key, fullToken("at-new", suiteStart))
        assert.strictEqual(yield* mode(file), 0o600)
        assert.strictEqual(Redacted.value((yield* store.load(key)).accessToken), "at-new")
      }))

    it.scoped("a directory that others can access is refused by every operation, with the chmod that fixes it", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const store = yield* makeStore(directory)
        yield* store.save(key, fullToken("at-in-open-directory", suiteStart))
        yield* Effect.promise(() => fs.chmod(directory, 0o755))
        const failures = [
          yield* Effect.flip(store.load(key)),
          yield* Effect.flip(store.save(key, fullToken("at-refused", suiteStart))),
          yield* Effect.flip(store.remove(key)),
          yield* Effect.flip(TokenStore.withLock(store, key, Effect.void))
        ]
        assert.deepStrictEqual(
          failures.map((error) => error._tag === "StoreError" && error.operation),
          ["load", "save", "remove", "lock"]
        )
        for (const error of failures) {
          assert.include(error.message, `permissions 0755 for '${directory}' are too open`)
          assert.include(error.message, `run: chmod 700 '${directory}'`)
        }
        yield* Effect.promise(() => fs.chmod(directory, 0o700))
        assert.strictEqual(Redacted.value((yield* store.load(key)).accessToken), "at-in-open-directory")
      }))

    it.scoped("a directory path that is a file, and a token path that is a directory or a FIFO, are StoreErrors", () =>
      Effect.gen(function*() {
        const directory = yield* tokenDirectory
        yield* Effect.promise(async () => {
          await fs.mkdir(path.dirname(directory), { recursive: true })
          await fs.writeFile(directory, "not a directory")
        })
        const store = yield* makeStore(directory)
        const error = yield* Effect.flip(store.save(key, fullToken("at", suiteStart)))
        assert.strictEqual(error._tag, "StoreError")
        assert.include(error.message, "is not a directory")

        const other = path.join(path.dirname(directory), "other")
        yield* Effect.promise(() =>
          fs.mkdir(path.join(other, TokenStore.fileName(key)), { recursive: true, mode: 0o700 })
        )
        yield* Effect.promise(() => fs.chmod(other, 0o700))
        const loadError = yield* Effect.flip((yield* makeStore(other)).load(key))
        assert.strictEqual(loadError._tag, "StoreError")
        assert.include(loadError.message, "is not a regular file")

        // a FIFO in the token file's place: refused at once, not opened (which would wait for a writer)
        const withFifo = path.join(path.dirname(directory), "fifo")
        yield* Effect.promise(() => fs.mkdir(withFifo, { recursive: true, mode: 0o700 }))
        const mkfifo = childProcess.spawnSync("mkfifo", ["-m", "600", path.join(withFifo, TokenStore.fileName(key))])
        assert.strictEqual(mkfifo.status, 0, String(mkfifo.stderr))
        const fifoError = yield* Effect.flip((yield* makeStore(withFifo)).load(key))
        assert.strictEqual(fifoError._tag, "StoreError")
        assert.include(fifoError.message, "is not a regular file")
      }))
  })

  describe("failures are typed, never defects", () => {
    it.scoped("a rename that fails (disk full): StoreError with the path and the code; no temporary file left", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const store = yield* makeStoreWith(directory, () => ({
          rename: (from) => Effect.fail(new Files.SystemFailure({ file: from, call: "rename", code: "ENOSPC" }))
        }))
        const error = yield* Effect.flip(store.save(key, fullToken("at", suiteStart)))
        assert.strictEqual(error._tag, "StoreError")
        assert.strictEqual(error.operation, "save")
        assert.include(error.message, "ENOSPC")
        assert.include(error.message, path.join(directory, TokenStore.fileName(key)))
        assert.deepStrictEqual(yield* listing(directory), [])
      }))

    it.scoped("a file system that dies: StoreError, not a defect", () =>
      Effect.gen(function*() {
        const directory = yield* tokenDirectory
        const store = yield* makeStoreWith(directory, () => ({ stat: () => Effect.die(new TypeError("boom")) }))
        const error = yield* Effect.flip(store.load(key))
        assert.strictEqual(error._tag, "StoreError")
        assert.include(error.message, "unexpected failure (TypeError)")
        const lockError = yield* Effect.flip(TokenStore.withLock(store, key, Effect.void))
        assert.strictEqual(lockError._tag, "StoreError")
      }))
  })

  describe("lock file", () => {
    it.scoped("is created exclusively while held, 0600, with pid, host and the Clock's time, and removed after", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const store = yield* makeStore(directory)
        const lock = path.join(directory, TokenStore.fileName(key).replace(/\.json$/, ".lock"))
        const seen = yield* TokenStore.withLock(
          store,
          key,
          Effect.promise(async () => ({
            content: JSON.parse(await fs.readFile(lock, "utf8")),
            info: await fs.stat(lock)
          }))
        )
        assert.strictEqual(seen.content.pid, process.pid)
        assert.strictEqual(seen.content.host, os.hostname())
        assert.strictEqual(seen.content.acquiredAt, "2026-01-01T00:00:00.000Z")
        assert.strictEqual(seen.info.mode & 0o777, 0o600)
        assert.strictEqual(seen.info.mtimeMs, suiteStart)
        assert.deepStrictEqual(yield* listing(directory), [])
        yield* Effect.flip(TokenStore.withLock(store, key, Effect.fail("boom")))
        assert.deepStrictEqual(yield* listing(directory), [])
      }))

    it.scoped("on a file system without hard links, is created in place (open with wx), exclusive all the same", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const noLinks = (): Partial<Files.Access> => ({
          link: (_, file) => Effect.fail(new Files.SystemFailure({ file, call: "link", code: "EPERM" }))
        })
        const one = yield* makeStoreWith(directory, noLinks)
        const two = yield* makeStoreWith(directory, noLinks)
        const lock = path.join(directory, TokenStore.fileName(key).replace(/\.json$/, ".lock"))
        const entered = yield* Effect.makeLatch(false)
        const holder = yield* Effect.fork(TokenStore.withLock(one, key, Effect.zipRight(entered.open, Effect.never)))
        yield* entered.await
        const content = JSON.parse(yield* Effect.promise(() => fs.readFile(lock, "utf8")))
        assert.strictEqual(content.pid, process.pid)
        assert.strictEqual((yield* Effect.promise(() => fs.stat(lock))).mtimeMs, suiteStart)
        const waiter = yield* Effect.fork(TokenStore.withLock(two, key, Effect.succeed("after")))
        yield* idle(10)
        assert.isFalse(yield* isDone(waiter))
        yield* Fiber.interrupt(holder)
        assert.deepStrictEqual(yield* driveJoin("the lock", waiter), Exit.succeed("after"))
        assert.deepStrictEqual(yield* listing(directory), [])
      }))

    it.scoped("is removed when the holder is interrupted, and a waiter that is interrupted leaves nothing", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const one = yield* makeStore(directory)
        const two = yield* makeStore(directory)
        const entered = yield* Effect.makeLatch(false)
        const holder = yield* Effect.fork(TokenStore.withLock(one, key, Effect.zipRight(entered.open, Effect.never)))
        yield* entered.await
        const waiter = yield* Effect.fork(TokenStore.withLock(two, key, Effect.void))
        yield* idle(10)
        assert.isFalse(yield* isDone(waiter))
        yield* Fiber.interrupt(waiter)
        assert.strictEqual((yield* listing(directory)).length, 1)
        yield* Fiber.interrupt(holder)
        assert.deepStrictEqual(yield* listing(directory), [])
      }))

    it.scoped("of a process that is gone is taken over at once, and that is logged", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const store = yield* makeStore(directory)
        const pid = deadPid()
        yield* plantLock(directory, key, ownerContent(pid), suiteStart)
        const [exit, logs] = yield* captureLogs(
          Effect.flatMap(Effect.fork(TokenStore.withLock(store, key, Effect.succeed("mine"))), (fiber) =>
            driveJoin("the lock", fiber))
        )
        assert.deepStrictEqual(exit, Exit.succeed("mine"))
        assert.isTrue(
          logs.some((line) =>
            line.includes(`its owner, process ${pid}, is gone`)
          ),
          logs.join("\n")
        )
        assert.deepStrictEqual(yield* listing(directory), [])
      }))

    for (
      const [what, content] of [
        ["a live process's lock that is no longer refreshed", ownerContent(process.pid)],
        ["another host's lock (its pid means nothing here)", ownerContent(deadPid(), "some-other-host")],
        ["an empty lock file (its owner died before writing it)", ""]
      ] as const
    ) {
      it.scoped(`${what} is taken over once older than staleAfter, not before`, () =>
        Effect.gen(function*() {
          yield* start
          const directory = yield* tokenDirectory
          const store = yield* makeStore(directory, { staleAfter: "10 seconds" })
          yield* plantLock(directory, key, content, suiteStart)
          const waiter = yield* Effect.fork(TokenStore.withLock(store, key, Effect.succeed("mine")))
          yield* TestClock.adjust("9 seconds")
          yield* idle(20)
          assert.isFalse(yield* isDone(waiter), "still fresh")
          yield* TestClock.adjust("1 second")
          assert.deepStrictEqual(yield* driveJoin("the stale lock", waiter), Exit.succeed("mine"))
          assert.deepStrictEqual(yield* listing(directory), [])
        }))
    }

    it.scoped("a live holder refreshes its lock (heartbeat): never stale while held, however long", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const one = yield* makeStore(directory, { staleAfter: "2 seconds" })
        const two = yield* makeStore(directory, { staleAfter: "2 seconds" })
        const entered = yield* Effect.makeLatch(false)
        const holder = yield* Effect.fork(TokenStore.withLock(one, key, Effect.zipRight(entered.open, Effect.never)))
        yield* entered.await
        const waiter = yield* Effect.fork(TokenStore.withLock(two, key, Effect.succeed("after")))
        // 300 × 20 ms; after each step the heartbeat's read and touch, and the waiter's look at the lock,
        // end before the Clock moves on: a slow disk must not make a live lock look stale
        yield* idleSettled(300, 2, waiter, "20 millis")
        assert.isFalse(yield* isDone(waiter), "the lock held for 3 times staleAfter was not taken over")
        yield* Fiber.interrupt(holder)
        assert.deepStrictEqual(yield* driveJoin("the released lock", waiter), Exit.succeed("after"))
      }))

    it.scoped("a fresh lock taken between the staleness check and the takeover is given back", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const fresh = ownerContent(process.pid).replace("planted", "fresh")
        const lock = yield* plantLock(directory, key, ownerContent(deadPid()), suiteStart)
        let raced = false
        // just before the stale lock is moved aside, another process replaces it with a fresh lock
        const store = yield* makeStoreWith(directory, (nodeFs) => ({
          rename: (from, to) =>
            from === lock && to.endsWith(".stale") && !raced
              ? Effect.zipRight(
                Effect.promise(async () => {
                  raced = true
                  await fs.rm(lock)
                  await fs.writeFile(lock, fresh, { mode: 0o600 })
                }),
                nodeFs.rename(from, to)
              )
              : nodeFs.rename(from, to)
        }))
        const waiter = yield* Effect.fork(TokenStore.withLock(store, key, Effect.void))
        // each look (create, link, stat, rename, link back, unlink...) ends with the waiter asleep again
        yield* idleSettled(20, 1, waiter)
        assert.isTrue(raced)
        assert.isFalse(yield* isDone(waiter), "the fresh lock is respected")
        assert.strictEqual(yield* Effect.promise(() => fs.readFile(lock, "utf8")), fresh)
        assert.deepStrictEqual(yield* listing(directory), [path.basename(lock)])
        yield* Fiber.interrupt(waiter)
      }))

    it.scoped("release leaves alone a lock that is no longer ours, and says so", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const store = yield* makeStore(directory)
        const lock = path.join(directory, TokenStore.fileName(key).replace(/\.json$/, ".lock"))
        const theirs = ownerContent(process.pid).replace("planted", "theirs")
        const [, logs] = yield* captureLogs(
          TokenStore.withLock(store, key, Effect.promise(() => fs.writeFile(lock, theirs)))
        )
        assert.strictEqual(yield* Effect.promise(() => fs.readFile(lock, "utf8")), theirs)
        assert.isTrue(logs.some((line) => line.includes("was taken over by another process")), logs.join("\n"))
      }))
  })

  describe("the default directory", () => {
    const withEnv = (env: Record<string, string>) =>
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

    it.effect("is $XDG_STATE_HOME/tokenlayer, or ~/.local/state/tokenlayer (a relative XDG_STATE_HOME is ignored)", () =>
      Effect.gen(function*() {
        assert.strictEqual(
          yield* TokenStore.defaultDirectory.pipe(withEnv({ XDG_STATE_HOME: "/var/state", HOME: "/home/u" })),
          "/var/state/tokenlayer"
        )
        assert.strictEqual(
          yield* TokenStore.defaultDirectory.pipe(withEnv({ HOME: "/home/u" })),
          "/home/u/.local/state/tokenlayer"
        )
        assert.strictEqual(
          yield* TokenStore.defaultDirectory.pipe(withEnv({ XDG_STATE_HOME: "state", HOME: "/home/u" })),
          "/home/u/.local/state/tokenlayer"
        )
        assert.strictEqual(
          yield* TokenStore.defaultDirectory.pipe(withEnv({})),
          path.join(os.homedir(), ".local", "state", "tokenlayer")
        )
      }))

    it.scoped("layerFile() stores there, creating it", () =>
      Effect.gen(function*() {
        yield* start
        const state = path.dirname(yield* tokenDirectory)
        yield* Effect.gen(function*() {
          const store = yield* TokenStore.TokenStore
          yield* store.save(key, fullToken("at-default", suiteStart))
        }).pipe(Effect.provide(TokenStore.layerFile()), withEnv({ XDG_STATE_HOME: state }))
        assert.deepStrictEqual(yield* listing(path.join(state, "tokenlayer")), [TokenStore.fileName(key)])
        assert.strictEqual(yield* mode(path.join(state, "tokenlayer")), 0o700)
      }))
  })

  describe("under the token service", () => {
    const service = (store: TokenStore.Service) =>
      TokenService.make().pipe(Effect.provideService(TokenStore.TokenStore, store))

    it.scoped("a program run twice (a command-line tool) asks the token endpoint once", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        const first = yield* Effect.scoped(Effect.flatMap(service(yield* makeStore(directory)), (tokens) => tokens.get))
        const second = yield* Effect.scoped(
          Effect.flatMap(service(yield* makeStore(directory)), (tokens) => tokens.get)
        )
        assertSameToken(second, first)
        assert.strictEqual(yield* TestGrant.requests, 1)
        yield* TestClock.adjust("56 minutes")
        const third = yield* Effect.scoped(Effect.flatMap(service(yield* makeStore(directory)), (tokens) => tokens.get))
        assert.isFalse(Token.sameAccessToken(third, first))
        assert.strictEqual(yield* TestGrant.requests, 2)
      }).pipe(
        Effect.provide(
          Layer.mergeAll(TestGrant.layer({ lifetime: "1 hour" }), RefreshPolicy.fixed("5 minutes"), RetryPolicy.none)
        )
      ))

    it.scoped("two services on one directory fetch once, through the lock, when both start cold together", () =>
      Effect.gen(function*() {
        yield* start
        const directory = yield* tokenDirectory
        yield* Effect.flatMap(TestGrant.TestGrant, (grant) => grant.setLatency("1 second"))
        const one = yield* service(yield* makeStore(directory))
        const two = yield* service(yield* makeStore(directory))
        const fiber = yield* Effect.fork(Effect.all([one.get, two.get], { concurrency: 2 }))
        const exit = yield* driveJoin("two cold gets", fiber)
        assert.isTrue(Exit.isSuccess(exit))
        if (Exit.isSuccess(exit)) assertSameToken(exit.value[1], exit.value[0])
        assert.strictEqual(yield* TestGrant.requests, 1)
      }).pipe(
        Effect.provide(
          Layer.mergeAll(TestGrant.layer({ lifetime: "1 hour" }), RefreshPolicy.fixed("5 minutes"), RetryPolicy.none)
        )
      ))
  })
})
