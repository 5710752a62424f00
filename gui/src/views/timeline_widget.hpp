// A Gantt chart of a TimelineModel, painted directly (one rectangle per TimelineBlock, so huge
// traces stay fast): lanes of (rank, stream) with their labels on the left, a time ruler on top and
// the op-class legend at the bottom. Mouse wheel zooms around the cursor (Shift+wheel scrolls the
// lanes), dragging pans, hovering shows the op's name, class, duration, layer and micro-batch.
// Several widgets can share one TimelineViewport so that a prediction and a measurement scroll and
// zoom together.
#pragma once

#include <cstdint>
#include <optional>

#include <QObject>
#include <QPoint>
#include <QString>
#include <QWidget>

#include "core/timeline_model.hpp"

class QScrollBar;

namespace clustersim::gui {

// The visible time window [t0, t1] in nanoseconds, shared by aligned timelines.
class TimelineViewport : public QObject {
  Q_OBJECT
 public:
  explicit TimelineViewport(QObject* parent = nullptr);
  double t0() const { return t0_; }
  double t1() const { return t1_; }
  // Sets the window (clamped to a minimum width of 10 ns).
  void set_range(double t0, double t1);
  // Shows [0, end_ns] with a small margin.
  void fit(double end_ns);
  // Zooms by `factor` (< 1 zooms in) keeping `anchor_ns` at the same place.
  void zoom(double factor, double anchor_ns);
  void pan(double delta_ns);

 signals:
  void changed();

 private:
  double t0_ = 0.0, t1_ = 1.0;
};

class TimelineWidget : public QWidget {
  Q_OBJECT
 public:
  explicit TimelineWidget(QWidget* parent = nullptr);

  // The model is not owned; call model_changed() after it was rebuilt.
  void set_model(const TimelineModel* model);
  void model_changed();
  // Shares a viewport (not owned); by default the widget has its own.
  void set_viewport(TimelineViewport* viewport);
  TimelineViewport* viewport() const { return viewport_; }
  void set_title(const QString& title);
  // Fits the whole model into view.
  void fit();

  // Rectangles (op blocks) drawn by the last paint; for tests and the status line.
  int last_rect_count() const { return last_rects_; }
  int lane_height() const { return lane_height_; }
  static constexpr int label_width = 150;
  static constexpr int ruler_height = 22;
  static constexpr int legend_height = 22;

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

  // The op under a widget position, if any (what the tooltip shows).
  std::optional<TimelineHit> hit_at(const QPoint& pos) const;

 protected:
  void paintEvent(QPaintEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  bool event(QEvent* event) override;

 private:
  QRect plot_rect() const;
  double ns_per_px() const;
  double x_to_ns(double x) const;
  int visible_lanes() const;
  void update_scrollbar();

  const TimelineModel* model_ = nullptr;
  TimelineViewport own_viewport_;
  TimelineViewport* viewport_ = &own_viewport_;
  QScrollBar* lanes_bar_ = nullptr;
  QString title_;
  int lane_height_ = 18;
  int first_lane_ = 0;
  int last_rects_ = 0;
  bool dragging_ = false;
  QPoint drag_last_;
};

}  // namespace clustersim::gui
