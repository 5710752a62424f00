// Collective algorithms: the alpha-beta cost of one collective, as the analytical network tier uses
// it and as the flow tier uses it to pick an algorithm (the flow tier then times the algorithm's
// point-to-point flows on the topology graph; see network.hpp). Registered by name: "auto", "ring",
// "tree", "halving-doubling", "hierarchical", "direct"; an unknown name throws InputError listing the
// valid ones. The network model works out alpha (latency_s) and B (bandwidth_bytes_per_s, per rank)
// of the slowest level the group crosses, and for "hierarchical" each level's own.
// n = group size, S = CollectiveRequest::bytes (the full buffer: gathered size for all_gather, input
// size for reduce_scatter), L = ceil(log2 n). Every algorithm is "pipelined": a phase whose flows all
// run at once costs its latency hops x alpha + the bytes of its most loaded link / B (each flow of a
// ring step carries the whole step's share, as NCCL pipelines chunks through the ring).
//
//   ring   (Patarasuk & Yuan, JPDC 2009; Thakur, Rabenseifner & Gropp, IJHPCA 2005)
//            all_reduce                  2(n-1)a + 2((n-1)/n) S/B
//            reduce_scatter, all_gather   (n-1)a +  ((n-1)/n) S/B
//            broadcast, reduce            (n-1)a +            S/B   (pipelined chain, many chunks)
//            all_to_all                   as direct (NCCL implements it with point-to-point only)
//   tree   double binary tree (Sanders, Speck & Traeff, Parallel Computing 2009), built as NCCL builds
//          it (NVIDIA/nccl src/graph/trees.cc: an in-order binary tree, and its mirror image for even
//          n or its shift by one rank for odd n; each tree carries half of the buffer), with NCCL's
//          tuning model for the latency (src/graph/tuning.cc: L hops per pass):
//            all_reduce                  2La + 2 k/2 S/B      (reduce up both trees, then broadcast)
//            broadcast, reduce            La +   k/2 S/B
//            reduce_scatter, all_gather, all_to_all: as ring (NCCL has no tree for them)
//          k = the most flows one rank sends or receives in a pass, over both trees (tree_link_load):
//          2 for n >= 3 (NCCL's 2S/B: a rank is an inner node of at most one tree), 1 for n = 2.
//   halving-doubling  Thakur, Rabenseifner & Gropp, IJHPCA 2005 (Rabenseifner's algorithm): recursive
//          halving reduce-scatter, recursive doubling all-gather, over the largest power of two
//          p <= n; the r = n - p other ranks first hand their buffer to a partner (and get the result
//          back after), as the paper does for non-powers of two. l = log2 p:
//            all_reduce                  2la + 2((p-1)/p) S/B  [+ 2a + 2S/B when r > 0]
//            reduce_scatter, all_gather   la +  ((p-1)/p) S/B  [+ 2a + (1 + 1/n) S/B when r > 0]
//            broadcast, reduce           2la + 2((p-1)/p) S/B  [+ a + S/B when r > 0]
//                                        (scatter + all-gather, van de Geijn; reduce-scatter + gather)
//            all_to_all                   as direct
//   hierarchical  as NCCL and Horovod do across nodes: reduce-scatter (ring) inside each node, an
//          all-reduce (ring) across the nodes of each node-local shard (the m shards in parallel, one
//          per node-local index, each on that GPU's rail NIC), all-gather (ring) inside each node.
//          Needs the same number m >= 2 of members on each of K >= 2 nodes; otherwise it is ring
//          (which is what it degenerates to). With a, B of each level (_intra, _inter):
//            all_reduce      2(m-1)a_i + 2((m-1)/m) S/B_i + 2(K-1)a_e + 2((K-1)/K) S/(m B_e)
//            reduce_scatter   (m-1)a_i +  ((m-1)/m) S/B_i +  (K-1)a_e +  ((K-1)/K) S/(m B_e)
//            all_gather       the same (inter-node all-gather of the shards first)
//            broadcast, reduce, all_to_all: as ring
//   direct all messages in flight at once (NCCL grouped send/recv; bandwidth terms as pairwise
//          exchange in Thakur et al. 2005):
//            all_to_all, all_gather, reduce_scatter   a + ((n-1)/n) S/B
//            all_reduce                  2a + 2((n-1)/n) S/B    (reduce-scatter then all-gather)
//            broadcast, reduce            a +  (n-1) S/B        (the root's link carries every copy)
//   auto   like NCCL (src/graph/tuning.cc, enqueue.cc: the fastest modelled algorithm among those it
//          implements for the operation): all_to_all -> direct; a group inside one node -> ring;
//          across nodes, all_reduce -> the fastest of ring, tree and hierarchical; reduce_scatter and
//          all_gather -> the fastest of ring and hierarchical; broadcast, reduce -> ring. Ties go to
//          the earlier in that order. Thresholds that follow: tree beats ring exactly when
//          S < n B a (n - 1 - L) / (k n/2 - n + 1)   (k = 2: S < n B a (n - 1 - L), e.g. 16 nodes,
//          25 GB/s, 5 us: below ~22 MB); hierarchical is never slower than ring when the node's
//          level is at least as fast as the network's (a_i <= a_e, B_i >= B_e) and each member has a
//          NIC of its own: it trades (n - K) of ring's slow steps for fast ones and sends 1/m of the
//          bytes across nodes.
//          halving-doubling is never picked automatically (NCCL has no such algorithm).
// n = 1 or S = 0 costs 0 (nothing moves; the members still synchronise).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "clustersim/plan/types.hpp"

namespace clustersim::engine {

struct CollectiveRequest {
  CollectiveType type = CollectiveType::all_reduce;
  std::int32_t ranks = 1;              // n
  std::int64_t bytes = 0;              // S
  std::int32_t nodes = 1;              // nodes the group spans (K)
  double latency_s = 0.0;              // alpha of the slowest crossed level
  double bandwidth_bytes_per_s = 0.0;  // B of the slowest crossed level, per rank
  // Per level, for "hierarchical": members per node when every node holds the same number, else 0;
  // alpha and B inside a node, and alpha and per-rank B of the inter-node stage (the NIC a member's
  // shard ring uses, shared by the group's members on that NIC and by other instances of its kind).
  std::int32_t ranks_per_node = 0;
  double intra_latency_s = 0.0;
  double intra_bandwidth_bytes_per_s = 0.0;
  double inter_latency_s = 0.0;
  double inter_bandwidth_bytes_per_s = 0.0;
};

struct CollectiveTime {
  double seconds = 0.0;
  std::string_view algorithm;  // the algorithm that applied ("auto" names its pick)
};

class CollectiveAlgorithm {
 public:
  virtual ~CollectiveAlgorithm() = default;
  virtual std::string_view name() const = 0;
  // Throws InputError when bytes > 0 must cross a level with no bandwidth.
  virtual CollectiveTime time(const CollectiveRequest& request) const = 0;
};

// The registered algorithm; InputError("simulation.collective_algorithm", name, "one of ...").
const CollectiveAlgorithm& collective_algorithm(std::string_view name);
std::vector<std::string> collective_algorithm_names();

// k of the tree formulas: the most flows one member sends or receives in one pass (reduce or
// broadcast) of the double binary tree on n members, both trees together (0 for n < 2).
std::int32_t tree_link_load(std::int32_t n);

// The members' parents in NCCL's double binary tree on n members (indices 0..n-1): parent[t][i] is
// i's parent in tree t (0 or 1), -1 for that tree's root.
std::array<std::vector<std::int32_t>, 2> double_binary_tree(std::int32_t n);

}  // namespace clustersim::engine
