// Colours of op classes, shared by every view so that "gemm" is the same blue in the timeline,
// the legend and the validation table: compute classes in cool colours, communication in warm ones
// (one hue per group kind), idle and unknown in greys. Pure functions over QColor (Qt Gui, no widgets).
#pragma once

#include <QColor>
#include <QString>

namespace clustersim::gui {

// The colour of an op class ("gemm", "attention", "memory", "optimizer", "conv", "io", "delay",
// "comm:<group>:<type>", "p2p:<group>", "idle"); a stable hashed colour for anything else.
QColor op_class_color(const QString& op_class);

// The colour of a tensor role in memory charts, by reports::main_memory_roles() order; `index`
// wraps around.
QColor memory_role_color(int index);

}  // namespace clustersim::gui
