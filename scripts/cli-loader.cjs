#!/usr/bin/env node
// The `tokenlayer` executable (package.json `bin`, copied to dist/cli/main.cjs by scripts/build.mjs).
//
// It runs the bundled command (tokenlayer.cjs beside it) through V8's code cache, so that a shell calling
// `tokenlayer header` before each `curl` does not compile half a megabyte of JavaScript every time:
// - Node 22.1 and later: Node's own compile cache (module.enableCompileCache);
// - Node 20: the bundle is compiled with vm.Script and the code V8 made during the first run is kept;
//   later runs hand it back to V8, which checks it against the source and its own version and flags, and
//   compiles afresh (then keeps a new one) when it does not match.
// The cache lives in $XDG_CACHE_HOME/tokenlayer (default ~/.cache/tokenlayer), a 0700 directory; a cache
// file that is not the user's own or that others may write is ignored. NODE_DISABLE_COMPILE_CACHE=1 (Node's
// own switch) turns it off.
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS: it must start before any ES module loader */
"use strict"
const fs = require("node:fs")
const Module = require("node:module")
const os = require("node:os")
const path = require("node:path")

const bundle = path.join(__dirname, "tokenlayer.cjs")

const cacheDirectory = () => {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return undefined
  let base = process.env.XDG_CACHE_HOME
  if (!base || !path.isAbsolute(base)) {
    let home
    try {
      home = os.homedir()
    } catch {
      return undefined
    }
    if (!home) return undefined
    base = path.join(home, ".cache")
  }
  return path.join(base, "tokenlayer")
}

/** The cached code at `file`, if it is the user's own and no one else may write it. */
const readOwn = (file) => {
  let fd
  try {
    fd = fs.openSync(file, "r")
    const stat = fs.fstatSync(fd)
    const uid = typeof process.getuid === "function" ? process.getuid() : stat.uid
    if (!stat.isFile() || stat.uid !== uid || (stat.mode & 0o022) !== 0) return undefined
    return fs.readFileSync(fd)
  } catch {
    return undefined
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}

const runWithV8Cache = (directory) => {
  const vm = require("node:vm")
  const stat = fs.statSync(bundle)
  const cacheFile = path.join(
    directory,
    `cli-${process.version}-${process.arch}-${stat.size}-${Math.trunc(stat.mtimeMs)}.v8cache`
  )
  let source = fs.readFileSync(bundle, "utf8")
  if (source.startsWith("#!")) source = `//${source.slice(2)}`
  const cachedData = readOwn(cacheFile)
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData })
  if (cachedData === undefined || script.cachedDataRejected === true) {
    process.once("exit", () => {
      try {
        fs.mkdirSync(directory, { recursive: true, mode: 0o700 })
        const temporary = `${cacheFile}.${process.pid}.tmp`
        fs.writeFileSync(temporary, script.createCachedData(), { mode: 0o600 })
        fs.renameSync(temporary, cacheFile)
      } catch {
        // no cache this time: the next run compiles again
      }
    })
  }
  const module_ = new Module(bundle, module)
  module_.filename = bundle
  module_.paths = Module._nodeModulePaths(__dirname)
  module_.loaded = true
  script.runInThisContext()(module_.exports, Module.createRequire(bundle), module_, bundle, __dirname)
}

const directory = cacheDirectory()
if (directory === undefined) {
  require(bundle)
} else if (typeof Module.enableCompileCache === "function") {
  try {
    Module.enableCompileCache(directory)
  } catch {
    // no cache: run as is
  }
  require(bundle)
} else {
  runWithV8Cache(directory)
}
