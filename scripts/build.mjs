// The package's build (`npm run build`, and `prepare`, which `npm ci` and `npm pack` run):
//
//   dist/esm/   the library as ES modules, with .d.ts (tsc -p tsconfig.build.json, which type-checks too)
//   dist/cjs/   the same as CommonJS (esbuild, file by file, no bundling), with a copy of the .d.ts; its
//               package.json says {"type":"commonjs"}, so Node and TypeScript read both as CommonJS
//   dist/cli/   the `tokenlayer` command, bundled by esbuild from src/cli/main.ts with everything it uses
//               (effect, @effect/cli, the printers, qrcode, jose) into one CommonJS file, started by
//               main.cjs through V8's code cache: a process starts from two files instead of a thousand
//               modules, and a library user installs none of the command's dependencies. Parts the
//               command loads with `import()` are evaluated only when used. ioredis (an optional peer)
//               stays outside.
//
//   node scripts/build.mjs [outDir]   # default: dist (the tests and the bench build into a temp dir)
import * as esbuild from "esbuild"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

/** Every file under `dir` (relative paths), recursively. */
const walk = (dir, base = dir) =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    return entry.isDirectory() ? walk(full, base) : [path.relative(base, full)]
  })

/** The library's modules: every .ts under src/ but the command's (src/cli/). */
const librarySources = () =>
  walk(path.join(root, "src"))
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts") && !file.startsWith(`cli${path.sep}`))
    .map((file) => path.join(root, "src", file))

const writeJson = (file, value) => fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`)

/**
 * The command, bundled into `outdir`: tokenlayer.cjs (src/cli/main.ts with everything it uses) and
 * main.cjs (scripts/cli-loader.cjs: runs the bundle through V8's code cache). CommonJS, one file: the
 * modules the command reaches only through `import()` are evaluated only when it gets there (esbuild
 * wraps them in lazy initialisers), and the whole file is compiled once per machine, not once per run.
 * Answers the path of main.cjs.
 */
export const buildCli = async (outdir) => {
  fs.mkdirSync(outdir, { recursive: true })
  await esbuild.build({
    entryPoints: [path.join(root, "src", "cli", "main.ts")],
    absWorkingDir: root,
    outfile: path.join(outdir, "tokenlayer.cjs"),
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    // import() of a bundled module becomes a lazy require of its initialiser (vm.Script, which runs the
    // bundle on Node 20, has no loader for a real import())
    supported: { "dynamic-import": false },
    external: ["ioredis"],
    // should the command import the library by its package name, the sources, never a stale dist/
    conditions: ["source"],
    // short names parse faster; classes and functions keep their .name (error messages use them)
    minify: true,
    keepNames: true,
    legalComments: "eof",
    logLevel: "warning"
  })
  const main = path.join(outdir, "main.cjs")
  fs.copyFileSync(path.join(root, "scripts", "cli-loader.cjs"), main)
  fs.chmodSync(main, 0o755)
  return main
}

/** The whole package build into `outDir`. */
export const build = async (outDir) => {
  fs.rmSync(outDir, { recursive: true, force: true })
  const esm = path.join(outDir, "esm")
  const cjs = path.join(outDir, "cjs")
  execFileSync(
    process.execPath,
    [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json", "--outDir", esm],
    { cwd: root, stdio: "inherit" }
  )
  writeJson(path.join(esm, "package.json"), { type: "module" })
  await esbuild.build({
    entryPoints: librarySources(),
    absWorkingDir: root,
    outbase: path.join(root, "src"),
    outdir: cjs,
    bundle: false,
    format: "cjs",
    platform: "node",
    target: "node20",
    sourcemap: true,
    logLevel: "warning"
  })
  for (const file of walk(esm).filter((f) => f.endsWith(".d.ts") || f.endsWith(".d.ts.map"))) {
    fs.mkdirSync(path.dirname(path.join(cjs, file)), { recursive: true })
    fs.copyFileSync(path.join(esm, file), path.join(cjs, file))
  }
  writeJson(path.join(cjs, "package.json"), { type: "commonjs" })
  await buildCli(path.join(outDir, "cli"))
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await build(path.resolve(root, process.argv[2] ?? "dist"))
}
