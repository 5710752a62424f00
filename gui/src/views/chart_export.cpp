// PNG and SVG export of widgets.
#include "views/chart_export.hpp"

#include <QFileInfo>
#include <QPainter>
#include <QPixmap>
#include <QSvgGenerator>
#include <QWidget>

namespace clustersim::gui {

QImage render_widget(QWidget* widget) {
  if (!widget) return {};
  return widget->grab().toImage();
}

QString export_widget_image(QWidget* widget, const QString& path) {
  if (!widget) return QStringLiteral("nothing to export");
  if (QFileInfo(path).suffix().compare(QStringLiteral("svg"), Qt::CaseInsensitive) == 0) {
    QSvgGenerator generator;
    generator.setFileName(path);
    generator.setSize(widget->size());
    generator.setViewBox(QRect(QPoint(0, 0), widget->size()));
    generator.setTitle(QFileInfo(path).completeBaseName());
    generator.setDescription(QStringLiteral("clustersim-gui export"));
    QPainter painter;
    if (!painter.begin(&generator)) return QStringLiteral("cannot write %1").arg(path);
    widget->render(&painter);
    painter.end();
    return QFileInfo(path).size() > 0 ? QString() : QStringLiteral("cannot write %1").arg(path);
  }
  const QImage image = render_widget(widget);
  if (image.isNull()) return QStringLiteral("the view has nothing to draw");
  return image.save(path) ? QString() : QStringLiteral("cannot write %1").arg(path);
}

}  // namespace clustersim::gui
