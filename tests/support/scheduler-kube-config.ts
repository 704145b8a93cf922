import type * as k8s from "@kubernetes/client-node";
import type { KubeConfig } from "../../scheduler/src/config/kubeconfig.js";

/**
 * The scheduler's own KubeConfig (what KubeClient takes) for a client-node one's current
 * context: the tests build their admin and ServiceAccount clients with client-node.
 */
export function schedulerKubeConfig(kc: k8s.KubeConfig): KubeConfig {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster || !user) throw new Error("the kubeconfig has no current cluster or user");
  const decoded = (data: string | undefined) =>
    data ? Buffer.from(data, "base64").toString("utf8") : undefined;
  const defined = <T extends object>(fields: T) =>
    Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as T;
  return {
    source: "the test's kubeconfig",
    contexts: [],
    currentContext: kc.getCurrentContext(),
    cluster: defined({
      name: cluster.name,
      server: cluster.server,
      certificateAuthority: cluster.caFile,
      certificateAuthorityData: decoded(cluster.caData),
      insecureSkipTlsVerify: cluster.skipTLSVerify,
      tlsServerName: cluster.tlsServerName,
    }),
    user: defined({
      name: user.name,
      token: user.token,
      clientCertificate: user.certFile,
      clientCertificateData: decoded(user.certData),
      clientKey: user.keyFile,
      clientKeyData: decoded(user.keyData),
    }),
  };
}
