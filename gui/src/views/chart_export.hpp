// Exporting what a view shows: any widget (a chart view, the timeline, a whole tab) saved as PNG
// (QWidget::grab) or SVG (QSvgGenerator + QWidget::render), chosen by the file extension. Views
// that can be exported say which of their widgets is the chart (ExportableView).
#pragma once

#include <QImage>
#include <QString>

class QWidget;

namespace clustersim::gui {

// A view with one main picture (chart, timeline) that File > Export saves.
class ExportableView {
 public:
  virtual ~ExportableView() = default;
  // The widget to save; never null.
  virtual QWidget* export_target() = 0;
  // A file name stem, e.g. "memory".
  virtual QString export_name() const = 0;
};

// Saves `widget` to `path`: ".svg" as vector graphics, anything else as a raster image (PNG by
// default). Returns an error message, empty on success.
QString export_widget_image(QWidget* widget, const QString& path);

// The widget rendered to an image at its current size (works under the offscreen platform).
QImage render_widget(QWidget* widget);

}  // namespace clustersim::gui
