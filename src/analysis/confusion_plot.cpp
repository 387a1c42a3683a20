// Confusion matrix pictures: PNG/JPEG drawn with OpenCV, or SVG written as text. Cells are shaded
// by the row-normalised share (recall per true class) and show the count.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <opencv2/imgcodecs.hpp>  // the IMREAD_ / IMWRITE_ constants
#include <opencv2/imgproc.hpp>

#include "io/opencv_codecs.h"
#include "irbis/classifier.h"
#include "irbis/errors.h"
#include "irbis/text.h"

namespace irbis {
namespace {

double share(const cv::Mat& cm, int r, int c) {
  double row = 0;
  for (int j = 0; j < cm.cols; ++j) row += cm.at<int>(r, j);
  return row > 0 ? cm.at<int>(r, c) / row : 0;
}

// The cell colour of a share: white to blue, rgb(v, v, 255).
int cell_level(double share) { return int(255 - 200 * share); }

// WCAG relative luminance of an sRGB colour.
double luminance(int r, int g, int b) {
  auto lin = [](int c) {
    const double x = c / 255.0;
    return x <= 0.04045 ? x / 12.92 : std::pow((x + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

// White text where it contrasts more than black with the cell (WCAG contrast ratio); over this
// colour ramp the better of the two is always >= 4.5.
bool white_text_on(int r, int g, int b) {
  const double l = luminance(r, g, b);
  return 1.05 / (l + 0.05) > (l + 0.05) / 0.05;
}


void write_svg(const std::filesystem::path& file, const cv::Mat& cm, const std::vector<std::string>& classes,
               const std::string& title) {
  std::ofstream out(file);
  if (!out) throw IoError(file.string() + ": cannot open for writing");
  out << confusion_svg(cm, classes, title);
  if (!out) throw IoError(file.string() + ": write failed");
}

void write_raster(const std::filesystem::path& file, const cv::Mat& cm, const std::vector<std::string>& classes,
                  const std::string& title) {
  const int K = cm.rows, cell = 44;
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  const double fs = 0.45;
  int longest = 40, base = 0;
  for (const auto& c : classes) longest = std::max(longest, cv::getTextSize(c, font, fs, 1, &base).width);
  const int margin = longest + 16, top = margin + 34;
  cv::Mat img(top + K * cell + 36, margin + K * cell + 20, CV_8UC3, cv::Scalar(255, 255, 255));
  const auto tsz = cv::getTextSize(title, font, 0.55, 1, &base);
  cv::putText(img, title, {std::max(4, (img.cols - tsz.width) / 2), 20}, font, 0.55, {0, 0, 0}, 1, cv::LINE_AA);
  // Column labels: drawn horizontally into a strip, then rotated.
  cv::Mat strip(cell * K, margin, CV_8UC3, cv::Scalar(255, 255, 255));
  for (int r = 0; r < K; ++r) {
    const auto sz = cv::getTextSize(classes[size_t(r)], font, fs, 1, &base);
    cv::putText(img, classes[size_t(r)], {margin - 8 - sz.width, top + r * cell + cell / 2 + 5}, font, fs, {0, 0, 0}, 1,
                cv::LINE_AA);
    cv::putText(strip, classes[size_t(r)], {6, r * cell + cell / 2 + 5}, font, fs, {0, 0, 0}, 1, cv::LINE_AA);
  }
  cv::Mat rot;
  cv::rotate(strip, rot, cv::ROTATE_90_COUNTERCLOCKWISE);  // margin x (cell*K)
  rot.copyTo(img(cv::Rect(margin, top - margin - 2, rot.cols, rot.rows)));
  for (int r = 0; r < K; ++r)
    for (int c = 0; c < K; ++c) {
      const double s = share(cm, r, c);
      const cv::Rect box(margin + c * cell, top + r * cell, cell, cell);
      const int v = cell_level(s);
      cv::rectangle(img, box, cv::Scalar(255, v, v), cv::FILLED);  // BGR: blue shades
      cv::rectangle(img, box, cv::Scalar(140, 140, 140), 1);
      const std::string n = std::to_string(cm.at<int>(r, c));
      const auto sz = cv::getTextSize(n, font, fs, 1, &base);
      cv::putText(img, n, {box.x + (cell - sz.width) / 2, box.y + (cell + sz.height) / 2}, font, fs,
                  white_text_on(v, v, 255) ? cv::Scalar(255, 255, 255) : cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    }
  const std::string foot = "predicted (rows: true class)";
  const auto fsz = cv::getTextSize(foot, font, fs, 1, &base);
  cv::putText(img, foot, {std::max(4, margin + (K * cell - fsz.width) / 2), img.rows - 12}, font, fs, {0, 0, 0}, 1,
              cv::LINE_AA);
  bool ok = false;
  try {
    ok = opencv_codecs::imwrite(file.string(), img);
  } catch (const cv::Exception&) {
  }
  if (!ok) throw IoError(file.string() + ": cannot write the picture");
}

}  // namespace

std::string confusion_svg(const cv::Mat& cm, const std::vector<std::string>& classes, const std::string& title) {
  IRBIS_THROW_IF_NOT(cm.type() == CV_32S && cm.rows == cm.cols && size_t(cm.rows) == classes.size(), UsageError,
                     "confusion matrix must be K x K counts with K class names");
  const int K = cm.rows, cell = 44;
  size_t longest = 4;
  for (const auto& c : classes) longest = std::max(longest, c.size());
  // Room for the longest name at up to ~8.5 px a character (12 px sans-serif, wide letters);
  // every label also carries its full name as a tooltip.
  const int margin = int(longest) * 17 / 2 + 24, top = margin + 30;
  const int W = std::max(margin + K * cell + 20, 230), H = top + K * cell + 40;  // room for the footer
  std::ostringstream out;
  out << "<svg class=\"confusion\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  out << "<text x=\"" << W / 2 << "\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">" << html_escape(title)
      << "</text>\n";
  for (int r = 0; r < K; ++r) {
    const std::string name = html_escape(classes[size_t(r)]);
    out << "<text class=\"row-label\" x=\"" << margin - 6 << "\" y=\"" << top + r * cell + cell / 2 + 4
        << "\" text-anchor=\"end\"><title>" << name << "</title>" << name << "</text>\n";
    const int cx = margin + r * cell + cell / 2;
    out << "<text class=\"col-label\" transform=\"translate(" << cx + 4 << "," << top - 6 << ") rotate(-90)\"><title>"
        << name << "</title>" << name << "</text>\n";
    for (int c = 0; c < K; ++c) {
      const double s = share(cm, r, c);
      const int v = cell_level(s);
      out << "<rect class=\"cell\" data-row=\"" << r << "\" data-col=\"" << c << "\" data-count=\""
          << cm.at<int>(r, c) << "\" x=\"" << margin + c * cell << "\" y=\"" << top + r * cell << "\" width=\"" << cell
          << "\" height=\"" << cell << "\" fill=\"rgb(" << v << "," << v << ",255)\" stroke=\"#888\"><title>true "
          << html_escape(classes[size_t(r)]) << ", predicted " << html_escape(classes[size_t(c)]) << ": "
          << cm.at<int>(r, c) << "</title></rect>\n";
      // The text colour as an inline style: a page's stylesheet (the report's `svg text {fill}`)
      // overrides presentation attributes, which made the numbers dark on dark cells.
      out << "<text class=\"count\" x=\"" << margin + c * cell + cell / 2 << "\" y=\"" << top + r * cell + cell / 2 + 4
          << "\" text-anchor=\"middle\" style=\"fill:" << (white_text_on(v, v, 255) ? "#ffffff" : "#000000") << "\">"
          << cm.at<int>(r, c) << "</text>\n";
    }
  }
  out << "<text x=\"" << std::max(margin + K * cell / 2, 105) << "\" y=\"" << H - 12
      << "\" text-anchor=\"middle\">predicted (rows: true class)</text>\n</svg>\n";
  return out.str();
}

void write_confusion_plot(const std::filesystem::path& file, const cv::Mat& confusion,
                          const std::vector<std::string>& classes, const std::string& title) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (ext == ".svg") return write_svg(file, confusion, classes, title);
  if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") return write_raster(file, confusion, classes, title);
  throw UsageError(file.string() + ": the confusion plot must be .png, .jpg or .svg");
}

}  // namespace irbis
