// TimelineWidget: painting, zoom, pan and hover of the Gantt chart.
#include "views/timeline_widget.hpp"

#include <algorithm>
#include <cmath>

#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>
#include <QToolTip>
#include <QWheelEvent>

#include "clustersim/reports/format.hpp"
#include "core/op_colors.hpp"

namespace clustersim::gui {

// --- TimelineViewport --------------------------------------------------------------------------

TimelineViewport::TimelineViewport(QObject* parent) : QObject(parent) {}

void TimelineViewport::set_range(double t0, double t1) {
  if (t1 - t0 < 10.0) {
    const double mid = 0.5 * (t0 + t1);
    t0 = mid - 5.0;
    t1 = mid + 5.0;
  }
  if (t0 == t0_ && t1 == t1_) return;
  t0_ = t0;
  t1_ = t1;
  emit changed();
}

void TimelineViewport::fit(double end_ns) {
  const double end = std::max(end_ns, 10.0);
  set_range(-0.01 * end, 1.01 * end);
}

void TimelineViewport::zoom(double factor, double anchor_ns) {
  set_range(anchor_ns - (anchor_ns - t0_) * factor, anchor_ns + (t1_ - anchor_ns) * factor);
}

void TimelineViewport::pan(double delta_ns) {
  set_range(t0_ + delta_ns, t1_ + delta_ns);
}

// --- TimelineWidget ----------------------------------------------------------------------------

TimelineWidget::TimelineWidget(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setAttribute(Qt::WA_OpaquePaintEvent);
  setFocusPolicy(Qt::StrongFocus);
  lanes_bar_ = new QScrollBar(Qt::Vertical, this);
  lanes_bar_->hide();
  connect(lanes_bar_, &QScrollBar::valueChanged, this, [this](int v) {
    first_lane_ = v;
    update();
  });
  connect(viewport_, &TimelineViewport::changed, this, qOverload<>(&QWidget::update));
}

void TimelineWidget::set_model(const TimelineModel* model) {
  model_ = model;
  model_changed();
}

void TimelineWidget::model_changed() {
  first_lane_ = 0;
  update_scrollbar();
  fit();
  update();
}

void TimelineWidget::set_viewport(TimelineViewport* viewport) {
  disconnect(viewport_, nullptr, this, nullptr);
  viewport_ = viewport ? viewport : &own_viewport_;
  connect(viewport_, &TimelineViewport::changed, this, qOverload<>(&QWidget::update));
  update();
}

void TimelineWidget::set_title(const QString& title) {
  title_ = title;
  update();
}

void TimelineWidget::fit() {
  if (model_ && !model_->empty()) viewport_->fit(static_cast<double>(model_->end_ns()));
}

QSize TimelineWidget::sizeHint() const {
  return {900, 360};
}
QSize TimelineWidget::minimumSizeHint() const {
  return {300, ruler_height + legend_height + 3 * lane_height_};
}

QRect TimelineWidget::plot_rect() const {
  const int bar = lanes_bar_->isVisible() ? lanes_bar_->width() : 0;
  return QRect(label_width, ruler_height, std::max(1, width() - label_width - bar),
               std::max(1, height() - ruler_height - legend_height));
}

double TimelineWidget::ns_per_px() const {
  return (viewport_->t1() - viewport_->t0()) / std::max(1, plot_rect().width());
}

double TimelineWidget::x_to_ns(double x) const {
  return viewport_->t0() + (x - plot_rect().left()) * ns_per_px();
}

int TimelineWidget::visible_lanes() const {
  return std::max(1, plot_rect().height() / lane_height_);
}

void TimelineWidget::update_scrollbar() {
  const int lanes = model_ ? model_->lane_count() : 0;
  // Lanes fill the height when there are few of them (18 to 40 px each).
  const int available = std::max(1, height() - ruler_height - legend_height);
  lane_height_ = std::clamp(lanes > 0 ? available / lanes : 18, 18, 40);
  const int visible = std::max(1, (height() - ruler_height - legend_height) / lane_height_);
  const bool needed = lanes > visible;
  lanes_bar_->setVisible(needed);
  lanes_bar_->setGeometry(width() - 14, ruler_height, 14, std::max(1, height() - ruler_height - legend_height));
  lanes_bar_->setRange(0, needed ? lanes - visible : 0);
  lanes_bar_->setPageStep(visible);
  first_lane_ = std::clamp(first_lane_, 0, lanes_bar_->maximum());
}

void TimelineWidget::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  update_scrollbar();
}

void TimelineWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), Qt::white);
  last_rects_ = 0;
  const QRect plot = plot_rect();
  const QColor grid(0xe6, 0xe6, 0xe6);
  const QColor text(0x33, 0x33, 0x33);
  QFont small = font();
  small.setPointSizeF(std::max(6.0, font().pointSizeF() * 0.85));
  p.setFont(small);

  if (!model_ || model_->empty()) {
    p.setPen(text);
    p.drawText(rect(), Qt::AlignCenter, title_.isEmpty() ? QStringLiteral("no trace") : title_ + ": no trace");
    return;
  }

  // Time ruler: about one tick per 120 px, at a 1-2-5 step.
  const double t0 = viewport_->t0(), t1 = viewport_->t1();
  const double npp = ns_per_px();
  const double raw_step = npp * 120.0;
  const double mag = std::pow(10.0, std::floor(std::log10(std::max(raw_step, 1.0))));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (mag * m >= raw_step) {
      step = mag * m;
      break;
    }
  p.setPen(text);
  if (!title_.isEmpty())
    p.drawText(QRect(4, 0, label_width - 8, ruler_height), Qt::AlignVCenter | Qt::AlignLeft, title_);
  for (double t = std::ceil(t0 / step) * step; t <= t1; t += step) {
    const int x = plot.left() + static_cast<int>((t - t0) / npp);
    p.setPen(grid);
    p.drawLine(x, plot.top(), x, plot.bottom());
    p.setPen(text);
    p.drawLine(x, plot.top() - 4, x, plot.top());
    p.drawText(QRect(x - 60, 0, 120, ruler_height - 4), Qt::AlignHCenter | Qt::AlignBottom,
               QString::fromStdString(reports::format_duration_ns(t)));
  }

  // Lanes.
  const int lanes = model_->lane_count();
  const int visible = visible_lanes();
  p.setClipRect(QRect(0, plot.top(), width(), plot.height()));
  for (int i = 0; i < visible && first_lane_ + i < lanes; ++i) {
    const int lane = first_lane_ + i;
    const int y = plot.top() + i * lane_height_;
    if (lane % 2 == 1) p.fillRect(QRect(0, y, width(), lane_height_), QColor(0xf7, 0xf7, 0xf7));
    p.setPen(text);
    p.drawText(QRect(4, y, label_width - 8, lane_height_), Qt::AlignVCenter | Qt::AlignLeft,
               p.fontMetrics().elidedText(model_->lane(lane).label, Qt::ElideRight, label_width - 8));
    p.save();
    p.setClipRect(QRect(plot.left(), y, plot.width(), lane_height_));
    const auto blocks =
        model_->blocks(lane, static_cast<std::int64_t>(std::floor(t0)), static_cast<std::int64_t>(std::ceil(t1)), npp);
    for (const auto& b : blocks) {
      const double x0 = plot.left() + (static_cast<double>(b.start_ns) - t0) / npp;
      const double x1 = plot.left() + (static_cast<double>(b.end_ns) - t0) / npp;
      const QRectF r(x0, y + 2, std::max(1.0, x1 - x0), lane_height_ - 4);
      p.fillRect(r, op_class_color(model_->classes()[b.op_class]));
      ++last_rects_;
    }
    p.restore();
  }
  p.setClipping(false);
  p.setPen(QColor(0xbb, 0xbb, 0xbb));
  p.drawLine(plot.left(), plot.top(), plot.left(), plot.bottom());

  // Legend.
  int x = 6;
  const int y = height() - legend_height + 4;
  for (const QString& cls : model_->classes()) {
    const int w = p.fontMetrics().horizontalAdvance(cls);
    if (x + 16 + w > width()) break;
    p.fillRect(QRect(x, y + 2, 10, 10), op_class_color(cls));
    p.setPen(text);
    p.drawText(QPoint(x + 14, y + 11), cls);
    x += 14 + w + 14;
  }
}

std::optional<TimelineHit> TimelineWidget::hit_at(const QPoint& pos) const {
  if (!model_ || model_->empty()) return std::nullopt;
  const QRect plot = plot_rect();
  if (!plot.contains(pos)) return std::nullopt;
  const int lane = first_lane_ + (pos.y() - plot.top()) / lane_height_;
  if (lane >= model_->lane_count()) return std::nullopt;
  const double t = x_to_ns(pos.x());
  return model_->hit(lane, static_cast<std::int64_t>(t), static_cast<std::int64_t>(3.0 * ns_per_px()));
}

bool TimelineWidget::event(QEvent* event) {
  if (event->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(event);
    if (const auto hit = hit_at(help->pos())) {
      QToolTip::showText(help->globalPos(), hit->text(), this);
    } else {
      QToolTip::hideText();
      event->ignore();
    }
    return true;
  }
  return QWidget::event(event);
}

void TimelineWidget::wheelEvent(QWheelEvent* event) {
  const double steps = event->angleDelta().y() / 120.0;
  if (steps == 0.0) return;
  if (event->modifiers() & Qt::ShiftModifier) {
    lanes_bar_->setValue(lanes_bar_->value() - static_cast<int>(steps * 3));
  } else {
    viewport_->zoom(std::pow(0.8, steps), x_to_ns(event->position().x()));
  }
  event->accept();
}

void TimelineWidget::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton) {
    dragging_ = true;
    drag_last_ = event->pos();
    setCursor(Qt::ClosedHandCursor);
  }
}

void TimelineWidget::mouseMoveEvent(QMouseEvent* event) {
  if (dragging_) {
    const QPoint d = event->pos() - drag_last_;
    drag_last_ = event->pos();
    viewport_->pan(-d.x() * ns_per_px());
    if (d.y() != 0 && lanes_bar_->isVisible()) lanes_bar_->setValue(lanes_bar_->value() - d.y() / lane_height_);
    return;
  }
  if (const auto hit = hit_at(event->pos())) {
    QToolTip::showText(event->globalPosition().toPoint(), hit->text(), this);
  } else {
    QToolTip::hideText();
  }
}

void TimelineWidget::mouseReleaseEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton) {
    dragging_ = false;
    unsetCursor();
  }
}

void TimelineWidget::mouseDoubleClickEvent(QMouseEvent*) {
  fit();
}

}  // namespace clustersim::gui
