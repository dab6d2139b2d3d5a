#include "converter/pipeline.h"

#include "converter/partition.h"
#include "converter/passes/passes.h"

namespace edgemtl::converter {

void run_pipeline(Graph& g, const ConvertOptions& options) {
  fold_constants(g);
  collapse_reshapes(g);
  eliminate_dead_code(g);
  if (options.fuse_norms) fuse_norms(g);
  fold_affine_into_fc(g);
  fuse_activations(g);
  stack_parallel_fcs(g);
  eliminate_dead_code(g);
  if (options.split_user_item_fc) split_mixed_fcs(g);
  collapse_reshapes(g);  // the split may flatten parts that were reshaped already
  eliminate_common_subexpressions(g);
  eliminate_dead_code(g);
  insert_row_broadcasts(g);
  assign_stages(g);
  if (options.merge_lookups) merge_lookups(g);
  if (options.concat_of_reshapes) {
    concat_of_reshapes(g);
    eliminate_dead_code(g);
  }
  if (options.fuse_mixtures) fuse_mixtures(g);  // after concat_of_reshapes: experts stacked by one CONCAT
  if (options.fuse_mixtures && options.merge_mixtures) merge_mixtures(g);
}

Graph convert_onnx_file(const std::string& path, const ConvertOptions& options) {
  Graph g = import_onnx_file(path, options.import);
  run_pipeline(g, options);
  return g;
}

}  // namespace edgemtl::converter
