/** An API server's serving certificate, a client certificate, and a kubeconfig joining them. */
import type { KubeConfig } from "../../src/config/kubeconfig.js";
import { selfSignedCertificate } from "../../src/serving/self-signed-cert.js";

/** The API server stand-in's certificate, for the name api.internal (its own CA). */
export const servingCertificate = selfSignedCertificate("api", ["api.internal"]);
/** The client's certificate, CN "shard". */
export const clientCertificate = selfSignedCertificate("shard", []);

/**
 * A kubeconfig for https://127.0.0.1:<port> that trusts servingCertificate by the name
 * api.internal and presents clientCertificate.
 */
export function tlsKubeConfig(
  port: number,
  cluster: Partial<KubeConfig["cluster"]> = {},
  user: Partial<KubeConfig["user"]> = {},
): KubeConfig {
  return {
    source: "test",
    contexts: [],
    currentContext: "x",
    cluster: {
      name: "c",
      server: `https://127.0.0.1:${port}`,
      insecureSkipTlsVerify: false,
      certificateAuthorityData: servingCertificate.cert,
      tlsServerName: "api.internal",
      ...cluster,
    },
    user: {
      name: "u",
      clientCertificateData: clientCertificate.cert,
      clientKeyData: clientCertificate.key,
      ...user,
    },
  };
}
