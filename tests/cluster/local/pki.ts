import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The certificates and keys of a local control plane, all signed by one throwaway CA. */
export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  /** Client identities by name, each with a certificate and key file. */
  clients: Record<ClientName, { cert: string; key: string }>;
}

export type ClientName = "admin" | "controller-manager" | "scheduler" | "kwok";

/** Subject of each client certificate: CN is the user, O the groups RBAC sees. */
const clientSubjects: Record<ClientName, string> = {
  admin: "/O=system:masters/CN=cluster-admin",
  "controller-manager": "/CN=system:kube-controller-manager",
  scheduler: "/CN=system:kube-scheduler",
  // KWOK writes node and pod status for every fake node; it acts as an administrator.
  kwok: "/O=system:masters/CN=kwok-controller",
};

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function ecKey(dir: string, name: string): string {
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`], dir);
  return join(dir, `${name}.key`);
}

function signed(dir: string, name: string, subject: string, extensions: string): string {
  ecKey(dir, name);
  openssl(["req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`], dir);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "3650",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.crt`,
    ],
    dir,
  );
  return join(dir, `${name}.crt`);
}

/** Creates a CA, the API server's serving certificate, client certificates and the service-account key. */
export function createPki(dir: string): Pki {
  mkdirSync(dir, { recursive: true });
  ecKey(dir, "ca");
  openssl(
    [
      "req",
      "-x509",
      "-new",
      "-key",
      "ca.key",
      "-subj",
      "/CN=sharded-scheduler-local-ca",
      "-days",
      "3650",
      "-out",
      "ca.crt",
    ],
    dir,
  );
  const serverSans = [
    "IP:127.0.0.1",
    "IP:10.96.0.1",
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
  ].join(",");
  signed(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${serverSans}\n`,
  );
  const clients = {} as Pki["clients"];
  for (const [name, subject] of Object.entries(clientSubjects) as [ClientName, string][]) {
    signed(
      dir,
      name,
      subject,
      "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
    );
    clients[name] = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  }
  ecKey(dir, "service-account");
  openssl(["ec", "-in", "service-account.key", "-pubout", "-out", "service-account.pub"], dir);
  return {
    dir,
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    apiserverCert: join(dir, "apiserver.crt"),
    apiserverKey: join(dir, "apiserver.key"),
    serviceAccountKey: join(dir, "service-account.key"),
    serviceAccountPub: join(dir, "service-account.pub"),
    clients,
  };
}

/** A kubeconfig with every credential embedded, so the file alone is enough to connect. */
export function kubeconfigFor(pki: Pki, client: ClientName, server: string, contextName = "local"): string {
  const b64 = (file: string) => readFileSync(file).toString("base64");
  const { cert, key } = pki.clients[client];
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: ${contextName}`,
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(pki.caCert)}`,
    "users:",
    `- name: ${client}`,
    "  user:",
    `    client-certificate-data: ${b64(cert)}`,
    `    client-key-data: ${b64(key)}`,
    "contexts:",
    `- name: ${contextName}`,
    "  context:",
    `    cluster: ${contextName}`,
    `    user: ${client}`,
    `current-context: ${contextName}`,
    "",
  ].join("\n");
}
