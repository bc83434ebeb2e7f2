// A minimal SVG document builder for report figures (no dependencies, plain text output).
#pragma once
#include <string>
#include <string_view>

namespace wm::report {

std::string svg_escape(std::string_view text);
std::string svg_number(double v);  // compact decimal for coordinates

class SvgWriter {
 public:
  SvgWriter(double width, double height);

  // `extra` is inserted verbatim into the element's attributes (e.g. class="x").
  void rect(double x, double y, double w, double h, std::string_view fill,
            std::string_view extra = {});
  void line(double x1, double y1, double x2, double y2, std::string_view stroke, double width = 1.0,
            std::string_view extra = {});
  void polyline(std::string_view points, std::string_view stroke, double width = 1.5,
                std::string_view extra = {});
  void circle(double cx, double cy, double r, std::string_view fill, std::string_view extra = {});
  // anchor: "start" | "middle" | "end"
  void text(double x, double y, std::string_view content, double size = 11.0,
            std::string_view anchor = "start", std::string_view extra = {});
  void raw(std::string_view element) { body_ += element; }

  std::string str() const;
  // Writes the document; throws std::runtime_error naming the path on failure.
  void save(const std::string& path) const;

 private:
  double width_, height_;
  std::string body_;
};

}  // namespace wm::report
