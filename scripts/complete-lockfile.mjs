// Adds to package-lock.json the platform-specific optional packages (other OSes and CPUs) that npm
// leaves out when its registry cannot serve their manifests, as the registry mirror of this project's
// build machines cannot. Without them `npm ci` refuses the lock file as out of sync. Each entry gets
// the version its parent pins and the os/cpu/libc read from its name, so npm skips it on every other
// platform and fetches it (by version) on its own.
//
//   node scripts/complete-lockfile.mjs   # after any `npm install` that rewrote package-lock.json
import { readFileSync, writeFileSync } from "node:fs"

const path = new URL("../package-lock.json", import.meta.url)
const lock = JSON.parse(readFileSync(path, "utf8"))
const packages = lock.packages

const OS = ["darwin", "linux", "win32", "android", "freebsd", "openbsd", "netbsd", "sunos", "aix", "openharmony"]
const CPU = ["arm64", "arm", "x64", "ia32", "loong64", "ppc64", "riscv64", "s390x", "mips64el", "mipsel"]

const platformOf = (name) => {
  const parts = name.split("/").pop().split("-")
  const os = parts.find((p) => OS.includes(p))
  const cpu = parts.find((p) => CPU.includes(p))
  if (os === undefined || cpu === undefined) return undefined
  const platform = { os: [os], cpu: [cpu] }
  if (os === "linux") platform.libc = [parts.includes("musl") ? "musl" : "glibc"]
  return platform
}

let added = 0
for (const [location, meta] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const hoisted = `node_modules/${name}`
    const nested = `${location}/node_modules/${name}`
    if (packages[hoisted] !== undefined || packages[nested] !== undefined) continue
    const platform = platformOf(name)
    if (platform === undefined || !/^\d+\.\d+\.\d+/.test(version)) continue
    packages[hoisted] = {
      version,
      ...(meta.dev ? { dev: true } : {}),
      optional: true,
      ...platform
    }
    added++
  }
}
const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)))
)
lock.packages = sorted
writeFileSync(path, JSON.stringify(lock, null, 2) + "\n")
console.log(`complete-lockfile: added ${added} platform package(s)`)
