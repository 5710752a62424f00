// Colour tables of the dashboard (op classes, memory roles).
#include "core/op_colors.hpp"

#include <QHash>

namespace clustersim::gui {

namespace {

QColor group_color(const QString& group) {
  if (group == "dp") return QColor(0xd6, 0x27, 0x28);
  if (group == "tp") return QColor(0xe3, 0x77, 0xc2);
  if (group == "pp") return QColor(0x8c, 0x56, 0x4b);
  if (group == "cp") return QColor(0xff, 0x98, 0x96);
  if (group == "ep") return QColor(0xc5, 0xb0, 0xd5);
  if (group == "emb") return QColor(0xf7, 0xb6, 0xd2);
  return QColor(0xff, 0x7f, 0x0e);
}

}  // namespace

QColor op_class_color(const QString& op_class) {
  if (op_class == "gemm") return QColor(0x1f, 0x77, 0xb4);
  if (op_class == "attention") return QColor(0x94, 0x67, 0xbd);
  if (op_class == "conv") return QColor(0x17, 0xbe, 0xcf);
  if (op_class == "memory") return QColor(0x2c, 0xa0, 0x2c);
  if (op_class == "optimizer") return QColor(0xbc, 0xbd, 0x22);
  if (op_class == "io") return QColor(0x7f, 0x7f, 0x7f);
  if (op_class == "delay") return QColor(0xc7, 0xc7, 0xc7);
  if (op_class == "idle") return QColor(0xdd, 0xdd, 0xdd);
  if (op_class.startsWith("comm:")) {
    // One hue per group kind; the collective type shifts its lightness.
    const QColor base = group_color(op_class.section(':', 1, 1));
    const QString type = op_class.section(':', 2, 2);
    if (type == "reduce_scatter") return base.darker(125);
    if (type == "all_gather") return base.lighter(125);
    if (type == "all_to_all") return base.darker(150);
    if (type == "broadcast" || type == "reduce") return base.lighter(150);
    return base;
  }
  if (op_class.startsWith("p2p")) return group_color(op_class.section(':', 1, 1)).darker(120);
  const uint h = qHash(op_class);
  return QColor::fromHsv(static_cast<int>(h % 360), 120, 200);
}

QColor memory_role_color(int index) {
  static const QColor colors[] = {
      QColor(0x1f, 0x77, 0xb4),  // weights
      QColor(0xae, 0xc7, 0xe8),  // master weights
      QColor(0xff, 0x7f, 0x0e),  // grads
      QColor(0xff, 0xbb, 0x78),  // optimizer states
      QColor(0x2c, 0xa0, 0x2c),  // activations
      QColor(0x98, 0xdf, 0x8a),  // activation grads
      QColor(0x94, 0x67, 0xbd),  // workspace
      QColor(0xd6, 0x27, 0x28),  // comm buffers
      QColor(0x8c, 0x56, 0x4b),  // others
      QColor(0xe3, 0x77, 0xc2), QColor(0x7f, 0x7f, 0x7f),
  };
  const int n = static_cast<int>(sizeof(colors) / sizeof(colors[0]));
  return colors[((index % n) + n) % n];
}

}  // namespace clustersim::gui
