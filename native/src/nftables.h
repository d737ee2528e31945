/* nftables through libnftables, in process (nftables.c): a batch of commands (nft's text or
 * its JSON) run in one transaction in any network namespace. The context (and its netlink
 * socket) is made by a short-lived helper thread that setns'es there, as netlink.c does, so
 * Node's main thread never changes namespace; it is kept open while batches come (see
 * nftables.c). The network plugin's mechanism: it decides nothing, and names only its own
 * tables. */
#ifndef NSBOX_NFTABLES_H
#define NSBOX_NFTABLES_H

#include <stdbool.h>

#include "netlink.h"

struct nft_result
{
  /* What nft printed (list commands), malloc'ed; "" when nothing. */
  char *output;
  /* nft's own message when the batch was refused, malloc'ed; NULL when it ran. */
  char *error;
};

/* Runs `commands` (JSON when `json`: input and output) in the namespace at `netns` (NULL or
 * "": the caller's own). Returns 0 with result filled — result->error set when nft refused
 * the batch (nothing of it applied) — or -1 with err filled when it could not run at all.
 * Free the result with nft_result_free. */
int nft_run (const char *netns, const char *commands, bool json, struct nft_result *result,
             struct nl_error *err);
void nft_result_free (struct nft_result *result);

#endif
