// Builds small ONNX models in memory for the importer tests.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace edgemtl::converter::test {

class OnnxBuilder {
 public:
  explicit OnnxBuilder(int opset = 13) {
    model_.set_ir_version(8);
    auto* o = model_.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    graph_ = model_.mutable_graph();
    graph_->set_name("test");
  }

  /// dims: -1 is the dynamic batch dimension.
  void input(const std::string& name, int elem_type, const std::vector<int64_t>& dims) {
    auto* v = graph_->add_input();
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(elem_type);
    for (int64_t d : dims) {
      auto* dim = t->mutable_shape()->add_dim();
      if (d < 0) dim->set_dim_param("B"); else dim->set_dim_value(d);
    }
  }
  void output(const std::string& name) { graph_->add_output()->set_name(name); }

  void floats(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& data) {
    auto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float x : data) t->add_float_data(x);
  }
  void ints(const std::string& name, const std::vector<int64_t>& dims, const std::vector<int64_t>& data) {
    auto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t x : data) t->add_int64_data(x);
  }

  /// An initializer with `raw` as its raw_data, whatever its dims say.
  void raw(const std::string& name, int data_type, const std::vector<int64_t>& dims, const std::string& raw) {
    auto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(data_type);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(raw);
  }

  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name) {
    auto* n = graph_->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& i : inputs) n->add_input(i);
    for (const auto& o : outputs) n->add_output(o);
    return n;
  }
  static void attr(onnx::NodeProto* n, const std::string& name, int64_t value) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
  }
  static void attr(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& values) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : values) a->add_ints(v);
  }

  std::string bytes() const { return model_.SerializeAsString(); }

 private:
  onnx::ModelProto model_;
  onnx::GraphProto* graph_;
};

}  // namespace edgemtl::converter::test
