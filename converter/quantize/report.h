// The quantisation report's pieces, shared with the plan search's log.
#pragma once

#include <string>
#include <vector>

#include "converter/ir.h"

namespace edgemtl::converter {

/// A node's name for the report, shortened from the left; the user part of a
/// split layer (same name as its item part) is marked.
std::string layer_label(const Node& node);

/// Area under the ROC curve of scores against 0/1 labels (ties count half); NaN without both classes.
double roc_auc(const std::vector<float>& scores, const std::vector<int>& labels);

}  // namespace edgemtl::converter
