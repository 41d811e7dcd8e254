/* cp/cluster/cp_cluster_gencert.h: `portico-cp gen-cert`: certificates for the cluster
 * listener and data planes.
 *   gen-cert [CERT KEY] [--days N]        self-signed EC P-384 certificate for shared mode
 *                                         (default cluster.crt cluster.key, CN portico_clustering)
 *   gen-cert --ca [CERT KEY] [--days N]   a CA for pki mode (default cluster-ca.crt/.key)
 *   gen-cert issue --ca-cert F --ca-key F --cn NAME [--san N1,N2] [CERT KEY] [--days N]
 *                                         a node certificate signed by that CA (default
 *                                         NAME.crt NAME.key; SANs: NAME plus --san)
 * --expired (any form) writes a certificate that expired yesterday, for testing refusals.
 * Keys are written with mode 0600, certificates 0644; existing files are never overwritten.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLUSTER_GENCERT_H
#define CP_CLUSTER_GENCERT_H

/* Runs the subcommand; argv[0] is "gen-cert". Prints results and errors (CLI output). Returns
 * the exit status: 0, 1 (failure) or 2 (usage). Main thread. */
int cp_cluster_gencert_main(int argc, char **argv);

#endif
