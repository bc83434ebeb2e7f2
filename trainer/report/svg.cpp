#include "trainer/report/svg.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace wm::report {

std::string svg_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string svg_number(double v) {
  if (!std::isfinite(v)) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s(buf);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

SvgWriter::SvgWriter(double width, double height) : width_(width), height_(height) {}

void SvgWriter::rect(double x, double y, double w, double h, std::string_view fill, std::string_view extra) {
  body_ += "<rect x=\"" + svg_number(x) + "\" y=\"" + svg_number(y) + "\" width=\"" + svg_number(w) +
           "\" height=\"" + svg_number(h) + "\" fill=\"" + std::string(fill) + "\"";
  if (!extra.empty()) body_ += " " + std::string(extra);
  body_ += "/>\n";
}

void SvgWriter::line(double x1, double y1, double x2, double y2, std::string_view stroke, double width,
                     std::string_view extra) {
  body_ += "<line x1=\"" + svg_number(x1) + "\" y1=\"" + svg_number(y1) + "\" x2=\"" + svg_number(x2) +
           "\" y2=\"" + svg_number(y2) + "\" stroke=\"" + std::string(stroke) + "\" stroke-width=\"" +
           svg_number(width) + "\"";
  if (!extra.empty()) body_ += " " + std::string(extra);
  body_ += "/>\n";
}

void SvgWriter::polyline(std::string_view points, std::string_view stroke, double width, std::string_view extra) {
  body_ += "<polyline fill=\"none\" points=\"" + std::string(points) + "\" stroke=\"" + std::string(stroke) +
           "\" stroke-width=\"" + svg_number(width) + "\"";
  if (!extra.empty()) body_ += " " + std::string(extra);
  body_ += "/>\n";
}

void SvgWriter::circle(double cx, double cy, double r, std::string_view fill, std::string_view extra) {
  body_ += "<circle cx=\"" + svg_number(cx) + "\" cy=\"" + svg_number(cy) + "\" r=\"" + svg_number(r) +
           "\" fill=\"" + std::string(fill) + "\"";
  if (!extra.empty()) body_ += " " + std::string(extra);
  body_ += "/>\n";
}

void SvgWriter::text(double x, double y, std::string_view content, double size, std::string_view anchor,
                     std::string_view extra) {
  body_ += "<text x=\"" + svg_number(x) + "\" y=\"" + svg_number(y) + "\" font-size=\"" + svg_number(size) +
           "\" text-anchor=\"" + std::string(anchor) + "\"";
  if (!extra.empty()) body_ += " " + std::string(extra);
  body_ += ">" + svg_escape(content) + "</text>\n";
}

std::string SvgWriter::str() const {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + svg_number(width_) + "\" height=\"" +
         svg_number(height_) + "\" viewBox=\"0 0 " + svg_number(width_) + " " + svg_number(height_) +
         "\" font-family=\"Helvetica, Arial, sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" +
         body_ + "</svg>\n";
}

void SvgWriter::save(const std::string& path) const {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot open " + path + " for writing");
  out << str();
  out.close();
  if (!out) throw std::runtime_error("error writing " + path);
}

}  // namespace wm::report
