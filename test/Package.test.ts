/**
 * The package as a user installs it: `npm pack` gives a tarball, and a brand-new ES module project and a
 * brand-new CommonJS project install it with the README's line (`npm install effect@~3.22.4
 * @effect/platform@^0.97.2 @effect/platform-node@^0.108.2 ./tokenlayer-0.1.0.tgz`) and run a program that
 * gets a token from `AuthServer` (`tokenlayer/testing`), the CommonJS one with `require`. A TypeScript
 * consumer type-checks against the installed tarball under `moduleResolution` `nodenext` (an .ts and a
 * .cts file: the `import` and the `require` types) and `bundler`.
 *
 * Offline, and nothing written in the repository:
 * - the tarball is packed from a copy of the package's sources in a temp dir (its `prepare`, the build,
 *   runs there, with the repository's node_modules linked in), `--pack-destination` a temp dir;
 * - npm's registry is `support/localRegistry.ts` on 127.0.0.1: the packages of the repository's lock
 *   file at its versions, their tarballs read from the npm cache the repository's `npm ci` filled. npm
 *   resolves the ranges, checks the tarball's peers and copies it into node_modules (not the symlink
 *   `npm install ../tokenlayer` makes), with a cache of its own in the temp dir.
 * KEEP_PACKAGE_TEST=1 keeps the temp dir (its path is in the failure) to look into a failing install.
 */
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as Module from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as LocalRegistry from "./support/localRegistry.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const rootModules = fs.realpathSync(path.join(root, "node_modules"))
const packageJson = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  readonly version: string
  readonly peerDependencies: Readonly<Record<string, string>>
  readonly devDependencies: Readonly<Record<string, string>>
}

/** Generous: a loaded 2-core CI machine; npm and tsc are slow to start. */
const STEP_MS = 5 * 60_000

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The environment of npm and node children: no `npm test` lifecycle or package variables leak in. */
const childEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith("npm_package_") || key.startsWith("npm_lifecycle_") || key === "INIT_CWD") continue
    if (key.startsWith("TOKENLAYER_") || key === "NODE_OPTIONS" || key === "VITEST" || key.startsWith("VITEST_")) {
      continue
    }
    env[key] = value
  }
  return { ...env, NO_COLOR: "1", npm_config_update_notifier: "false", npm_config_fund: "false" }
}

const run = (
  command: string,
  args: ReadonlyArray<string>,
  cwd: string,
  env: NodeJS.ProcessEnv = childEnv()
): Promise<Ran> =>
  new Promise((resolve, reject) => {
    childProcess.execFile(
      command,
      args,
      { cwd, env, timeout: STEP_MS, maxBuffer: 64 * 1024 * 1024, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== "number") return reject(error)
        resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr })
      }
    )
  })

/** Runs and expects exit 0, else fails with everything the command said. */
const ok = async (
  command: string,
  args: ReadonlyArray<string>,
  cwd: string,
  env?: NodeJS.ProcessEnv
): Promise<string> => {
  const r = await run(command, args, cwd, env)
  if (r.code !== 0) {
    throw new Error(`${command} ${args.join(" ")} (in ${cwd}) exited ${r.code}\n${r.stdout}\n${r.stderr}`)
  }
  return r.stdout
}

const npm = (args: ReadonlyArray<string>, cwd: string) =>
  ok("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], cwd)
const node = (args: ReadonlyArray<string>, cwd: string) => ok(process.execPath, args, cwd)

const writeJson = (file: string, value: unknown) => fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`)

// -----------------------------------------------------------------------------
// a fresh consumer project
// -----------------------------------------------------------------------------

/** A fresh project in `dir` that runs the README's install line: its peers by range, then the tarball. */
const makeConsumer = async (dir: string, type: "module" | "commonjs", specs: ReadonlyArray<string>) => {
  fs.mkdirSync(dir, { recursive: true })
  const name = path.basename(dir)
  writeJson(path.join(dir, "package.json"), { name, version: "1.0.0", private: true, type })
  // a cache of its own: the user's npm cache is only read (by the registry), never written
  const install = npm([
    "install",
    "--registry",
    registry.url,
    "--cache",
    path.join(work, "npm-cache"),
    "--ignore-scripts",
    ...specs,
    tarball
  ], dir)
  await install.catch((error: unknown) => {
    throw new Error(
      `${String(error)}\ntarballs the npm cache does not have: ${registry.missing.join(", ") || "none"}`
    )
  })
  expect(registry.missing).toEqual([])
}

// -----------------------------------------------------------------------------
// the programs
// -----------------------------------------------------------------------------

/** Gets a token from AuthServer with tokenlayer, checks it is the one the server issued; prints facts. */
const programBody = `
const Server = AuthServer.layer({ clients: [{ id: "app", secret: "s3cret" }] })

const program = Effect.gen(function*() {
  const server = yield* AuthServer.AuthServer
  const token = yield* TokenService.get.pipe(
    Effect.provide(
      TokenService.layer().pipe(
        Layer.provide(
          Grant.clientCredentials({ tokenUrl: server.tokenUrl, clientId: "app", clientSecret: Redacted.make("s3cret") })
        )
      )
    )
  )
  const issued = yield* AuthServer.tokens
  return {
    got: issued.length === 1 && Redacted.value(issued[0].accessToken) === Redacted.value(token.accessToken),
    header: Token.authorizationHeader(token).split(" ")[0]
  }
})

Effect.runPromise(program.pipe(Effect.provide(Layer.merge(Server, NodeHttpClient.layerUndici)))).then(
  (result) => console.log(JSON.stringify({ ...result, facts })),
  (error) => {
    console.error(error)
    process.exitCode = 1
  }
)
`

const esmProgram = `
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Redacted } from "effect"
import { Grant, Token, TokenService } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import * as TokenStoreNs from "tokenlayer/TokenStore"

const facts = {
  entry: import.meta.resolve("tokenlayer"),
  testingEntry: import.meta.resolve("tokenlayer/testing"),
  redisEntry: import.meta.resolve("tokenlayer/TokenStore/Redis"),
  subpath: typeof TokenStoreNs.layerMemory
}
${programBody}`

const cjsProgram = `
"use strict"
const path = require("node:path")
const { NodeHttpClient } = require("@effect/platform-node")
const { Effect, Layer, Redacted } = require("effect")
const { Grant, Token, TokenService } = require("tokenlayer")
const { AuthServer } = require("tokenlayer/testing")
const TokenStoreNs = require("tokenlayer/TokenStore")

const facts = {
  entry: require.resolve("tokenlayer"),
  testingEntry: require.resolve("tokenlayer/testing"),
  redisEntry: require.resolve("tokenlayer/TokenStore/Redis"),
  subpath: typeof TokenStoreNs.layerMemory,
  // the app and tokenlayer load the same effect (one copy, CommonJS both)
  sameEffect: require.resolve("effect", { paths: [path.dirname(require.resolve("tokenlayer"))] }) === require.resolve("effect")
}
${programBody}`

/** Type-checked, not run: the public types through the installed package. */
const typedModule = `
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Redacted } from "effect"
import { Grant, TokenService, TokenManager, type Token } from "tokenlayer"
import * as TokenStore from "tokenlayer/TokenStore"
import { AuthServer, TestGrant } from "tokenlayer/testing"

const live = TokenService.layer().pipe(
  Layer.provide(Grant.clientCredentials({ tokenUrl: "https://auth.example/token", clientId: "app", clientSecret: Redacted.make("s") })),
  Layer.provide(TokenStore.layerMemory)
)
export const program: Effect.Effect<Token.Token, unknown> = TokenService.get.pipe(
  Effect.provide(live),
  Effect.provide(NodeHttpClient.layerUndici)
)
export const server = AuthServer.layer({ clients: [{ id: "app", secret: "s" }] })
export const grant = TestGrant
export const manager: typeof TokenManager.make = TokenManager.make
// @ts-expect-error: not a token
export const wrong: Token.Token = "a string"
`

const typedCommonJs = `
import tokenlayer = require("tokenlayer")
import testing = require("tokenlayer/testing")
import Effect = require("effect/Effect")

export const get: Effect.Effect<tokenlayer.Token.Token, unknown, tokenlayer.TokenService.TokenService> =
  tokenlayer.TokenService.get
export const layer = testing.AuthServer.layer
// @ts-expect-error: not a token
export const wrong: tokenlayer.Token.Token = 42
`

// -----------------------------------------------------------------------------
// the tests
// -----------------------------------------------------------------------------

let work = ""
let tarball = ""
let registry: LocalRegistry.LocalRegistry

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "tokenlayer-package-"))
  // a copy of what the package is built from; the repository's node_modules linked in
  const source = path.join(work, "tokenlayer")
  fs.mkdirSync(source)
  for (
    const entry of ["package.json", "README.md", "LICENSE", "tsconfig.json", "tsconfig.build.json", "scripts", "src"]
  ) {
    fs.cpSync(path.join(root, entry), path.join(source, entry), { recursive: true })
  }
  fs.symlinkSync(rootModules, path.join(source, "node_modules"), "dir")
  const packs = path.join(work, "packs")
  fs.mkdirSync(packs)
  // npm pack runs `prepare`: the build (tsc, esbuild) in the copy
  await npm(["pack", "--pack-destination", packs], source)
  tarball = path.join(packs, `tokenlayer-${packageJson.version}.tgz`)
  // the cache npm itself uses here (npm_config_cache, a .npmrc, or ~/.npm)
  const cache = (await npm(["config", "get", "cache"], root)).trim()
  registry = await LocalRegistry.start(path.join(root, "package-lock.json"), cache)
}, STEP_MS)

afterAll(async () => {
  await registry?.close()
  if (work !== "" && process.env.KEEP_PACKAGE_TEST !== "1") fs.rmSync(work, { recursive: true, force: true })
}, STEP_MS)

/** The README's install line: the peers at the ranges package.json gives them. */
const PEERS = Object.entries(packageJson.peerDependencies)
  .filter(([name]) => name !== "ioredis")
  .map(([name, range]) => `${name}@${range}`)

describe("the npm pack tarball", () => {
  it("holds the builds, the bundled command and the LICENSE; not the command's sources", async () => {
    const listing = await ok("tar", ["-tzf", tarball], work)
    const files = listing.split("\n").filter((line) => line !== "")
    for (
      const file of [
        "package/LICENSE",
        "package/package.json",
        "package/dist/esm/index.js",
        "package/dist/esm/index.d.ts",
        "package/dist/cjs/index.js",
        "package/dist/cjs/index.d.ts",
        "package/dist/cjs/package.json",
        "package/dist/cjs/testing/index.js",
        "package/dist/cli/main.cjs",
        "package/dist/cli/tokenlayer.cjs"
      ]
    ) expect(files).toContain(file)
    expect(files.filter((file) => file.startsWith("package/src/cli/") || file.startsWith("package/dist/esm/cli/")))
      .toEqual([])
    const license = await ok("tar", ["-xzOf", tarball, "package/LICENSE"], work)
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 tokenlayer contributors\n/)
    const manifest = JSON.parse(await ok("tar", ["-xzOf", tarball, "package/package.json"], work)) as {
      readonly dependencies: Record<string, string>
    }
    // the command's own dependencies are bundled into its bin, not installed with the library
    expect(Object.keys(manifest.dependencies)).toEqual(["jose"])
  }, STEP_MS)

  it("an ES module project installs it and gets a token; its bin runs without the command's dependencies", async () => {
    const dir = path.join(work, "esm-app")
    await makeConsumer(dir, "module", PEERS)
    // a copy, not a link to the repository
    expect(fs.lstatSync(path.join(dir, "node_modules", "tokenlayer")).isSymbolicLink()).toBe(false)
    for (const notInstalled of ["@effect/cli", "@effect/printer", "qrcode"]) {
      expect(fs.existsSync(path.join(dir, "node_modules", notInstalled))).toBe(false)
    }
    fs.writeFileSync(path.join(dir, "index.js"), esmProgram)
    const result = JSON.parse(await node(["index.js"], dir)) as {
      readonly got: boolean
      readonly header: string
      readonly facts: Record<string, string>
    }
    expect(result.got).toBe(true)
    expect(result.header).toBe("Bearer")
    expect(result.facts.entry).toMatch(/\/node_modules\/tokenlayer\/dist\/esm\/index\.js$/)
    expect(result.facts.testingEntry).toMatch(/\/node_modules\/tokenlayer\/dist\/esm\/testing\/index\.js$/)
    expect(result.facts.redisEntry).toMatch(/\/node_modules\/tokenlayer\/dist\/esm\/TokenStore\/Redis\.js$/)
    expect(result.facts.subpath).toBe("object")
    // the bin, with a home of its own: its compile cache goes to $HOME/.cache/tokenlayer
    const home = path.join(work, "home")
    const { XDG_CACHE_HOME: _xdg, ...rest } = childEnv()
    const env = { ...rest, HOME: home }
    const bin = path.join(dir, "node_modules", ".bin", "tokenlayer")
    const version = async () =>
      expect((await ok(bin, ["--version"], dir, env)).trim()).toBe(`tokenlayer ${packageJson.version}`)
    await version()
    const cacheDir = path.join(home, ".cache", "tokenlayer")
    expect(fs.statSync(cacheDir).mode & 0o077).toBe(0)
    if (typeof (Module as { enableCompileCache?: unknown }).enableCompileCache === "function") {
      // Node 22.1 and later: Node's own compile cache, in that directory
      expect(fs.readdirSync(cacheDir).length).toBeGreaterThan(0)
      await version()
    } else {
      // Node 20: the code V8 made, kept after the first run, used by the next
      const [cacheName, ...others] = fs.readdirSync(cacheDir)
      expect(others).toEqual([])
      expect(cacheName).toMatch(/^cli-v\d+\.\d+\.\d+-.+\.v8cache$/)
      const cacheFile = path.join(cacheDir, cacheName!)
      expect(fs.statSync(cacheFile).mode & 0o077).toBe(0)
      const made = fs.readFileSync(cacheFile)
      await version()
      expect(fs.readFileSync(cacheFile).equals(made)).toBe(true)
      // a damaged cache is refused by V8: the command still runs, and a good cache replaces it
      fs.writeFileSync(cacheFile, Buffer.alloc(made.length, 7))
      await version()
      expect(fs.readFileSync(cacheFile).equals(Buffer.alloc(made.length, 7))).toBe(false)
      // one that others may write is not read at all (replaced by the user's own, 0600)
      fs.chmodSync(cacheFile, 0o666)
      await version()
      expect(fs.statSync(cacheFile).mode & 0o777).toBe(0o600)
    }
  }, 2 * STEP_MS)

  it("a CommonJS project requires tokenlayer and tokenlayer/testing and gets a token", async () => {
    const dir = path.join(work, "cjs-app")
    await makeConsumer(dir, "commonjs", PEERS)
    fs.writeFileSync(path.join(dir, "index.js"), cjsProgram)
    const result = JSON.parse(await node(["index.js"], dir)) as {
      readonly got: boolean
      readonly header: string
      readonly facts: Record<string, string | boolean>
    }
    expect(result.got).toBe(true)
    expect(result.header).toBe("Bearer")
    expect(result.facts.entry).toMatch(/\/node_modules\/tokenlayer\/dist\/cjs\/index\.js$/)
    expect(result.facts.testingEntry).toMatch(/\/node_modules\/tokenlayer\/dist\/cjs\/testing\/index\.js$/)
    expect(result.facts.redisEntry).toMatch(/\/node_modules\/tokenlayer\/dist\/cjs\/TokenStore\/Redis\.js$/)
    expect(result.facts.subpath).toBe("object")
    expect(result.facts.sameEffect).toBe(true)
  }, 2 * STEP_MS)

  it("type-checks a consumer under moduleResolution nodenext (import and require) and bundler", async () => {
    const dir = path.join(work, "typed-app")
    await makeConsumer(dir, "module", [...PEERS, `@types/node@${packageJson.devDependencies["@types/node"]}`])
    fs.writeFileSync(path.join(dir, "module.ts"), typedModule)
    fs.writeFileSync(path.join(dir, "common.cts"), typedCommonJs)
    const base = {
      strict: true,
      noEmit: true,
      target: "ES2022",
      lib: ["ES2022"],
      types: ["node"],
      // as an app has it: effect's and @effect/platform's own declarations need the DOM lib and @types/ws
      skipLibCheck: true
    }
    writeJson(path.join(dir, "tsconfig.nodenext.json"), {
      compilerOptions: { ...base, module: "nodenext", moduleResolution: "nodenext" },
      files: ["module.ts", "common.cts"]
    })
    writeJson(path.join(dir, "tsconfig.bundler.json"), {
      compilerOptions: { ...base, module: "esnext", moduleResolution: "bundler" },
      files: ["module.ts"]
    })
    const tsc = path.join(rootModules, "typescript", "bin", "tsc")
    for (const config of ["tsconfig.nodenext.json", "tsconfig.bundler.json"]) {
      await node([tsc, "-p", config], dir)
    }
    // and a type error through the package is reported (the check is not vacuous)
    fs.writeFileSync(path.join(dir, "module.ts"), typedModule.replace("// @ts-expect-error: not a token\n", ""))
    const failing = await run(process.execPath, [tsc, "-p", "tsconfig.bundler.json"], dir)
    expect(failing.code).not.toBe(0)
    expect(failing.stdout).toMatch(/module\.ts.*error TS2322/)
  }, 2 * STEP_MS)
})
