/**
 * Throwaway certificates for the mutual TLS tests, made by openssl in a temp dir: a CA, the server's
 * certificate for 127.0.0.1, a client certificate from the CA, an expired one, and a self-signed one.
 * PEM strings; the directory is removed at once.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export interface Pair {
  readonly certificate: string
  readonly privateKey: string
}

export interface Certificates {
  readonly ca: string
  readonly server: Pair
  /** `CN=app, O=Tokenlayer Test`, from the CA. */
  readonly client: Pair
  /** From the CA, `CN=app, O=Tokenlayer Test` too, expired in 2020. */
  readonly expired: Pair
  /** `CN=self`, self-signed. */
  readonly selfSigned: Pair
  /** `CN=other`, self-signed: a certificate the server does not know. */
  readonly other: Pair
}

const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

export const makeCertificates = (): Certificates => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tokenlayer-mtls-"))
  const file = (name: string) => path.join(dir, name)
  const openssl = (...args: Array<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })
  const read = (name: string) => fs.readFileSync(file(name), "utf8")
  const pair = (name: string): Pair => ({ certificate: read(`${name}.pem`), privateKey: read(`${name}.key`) })
  try {
    openssl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-subj",
      "/CN=Tokenlayer Test CA",
      "-days",
      "2"
    )
    const signed = (name: string, subject: string, extensions?: string) => {
      openssl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject)
      if (extensions !== undefined) fs.writeFileSync(file(`${name}.ext`), extensions)
      openssl(
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        `${name}.pem`,
        "-days",
        "2",
        ...(extensions === undefined ? [] : ["-extfile", `${name}.ext`])
      )
    }
    signed("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\n")
    signed("client", "/O=Tokenlayer Test/CN=app", "subjectAltName=DNS:app.tokenlayer.test\n")
    // an expired one: `openssl ca` sets the dates
    fs.writeFileSync(file("index.txt"), "")
    fs.writeFileSync(file("serial"), "1000\n")
    fs.writeFileSync(
      file("ca.cnf"),
      `[ca]\ndefault_ca = test\n[test]\ndir = ${dir}\ndatabase = ${file("index.txt")}\nnew_certs_dir = ${dir}\n` +
        `serial = ${
          file("serial")
        }\ndefault_md = sha256\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n` +
        `organizationName = optional\n`
    )
    openssl("req", ...ec, "-keyout", "expired.key", "-out", "expired.csr", "-subj", "/O=Tokenlayer Test/CN=app")
    openssl(
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      "-cert",
      "ca.pem",
      "-keyfile",
      "ca.key",
      "-in",
      "expired.csr",
      "-out",
      "expired.pem",
      "-notext",
      "-startdate",
      "20200101000000Z",
      "-enddate",
      "20200102000000Z"
    )
    openssl("req", "-x509", ...ec, "-keyout", "self.key", "-out", "self.pem", "-subj", "/CN=self", "-days", "2")
    openssl("req", "-x509", ...ec, "-keyout", "other.key", "-out", "other.pem", "-subj", "/CN=other", "-days", "2")
    return {
      ca: read("ca.pem"),
      server: pair("server"),
      client: pair("client"),
      expired: pair("expired"),
      selfSigned: pair("self"),
      other: pair("other")
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
