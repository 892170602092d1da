//! The scaling curve as an SVG (plotters, SVG back end only): achieved MM/s (accepted and pushed)
//! and p99 submit → push against the offered rate.

use std::path::Path;

use plotters::prelude::*;

/// One point of the curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Point {
    /// Offered MM/s.
    pub(super) offered: f64,
    /// Accepted MM/s.
    pub(super) accepted: f64,
    /// Pushed MM/s.
    pub(super) pushed: f64,
    /// p99 submit → push, ms.
    pub(super) p99_ms: f64,
}

/// Writes the curve of `points` to `path` as SVG, titled `title`.
pub(super) fn write_svg(path: &Path, title: &str, points: &[Point]) -> Result<(), String> {
    let svg = render_svg(title, points)?;
    std::fs::write(path, svg).map_err(|e| format!("{}: {e}", path.display()))
}

/// The SVG text of the curve.
pub(super) fn render_svg(title: &str, points: &[Point]) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, 560)).into_drawing_area();
        draw(&root, title, points).map_err(|e| format!("plot: {e}"))?;
        root.present().map_err(|e| format!("plot: {e}"))?;
    }
    Ok(out)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    points: &[Point],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let x_max = points.iter().map(|p| p.offered).fold(1.0, f64::max) * 1.05;
    let y_max = points
        .iter()
        .flat_map(|p| [p.offered, p.accepted, p.pushed])
        .fold(1.0, f64::max)
        * 1.1;
    let p99_max = points.iter().map(|p| p.p99_ms).fold(10.0, f64::max) * 2.0;
    let p99_min = points
        .iter()
        .map(|p| p.p99_ms)
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min)
        .min(100.0)
        / 2.0;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?
        .set_secondary_coord(0f64..x_max, (p99_min.max(0.1)..p99_max).log_scale());
    chart
        .configure_mesh()
        .x_desc("offered MM/s (open loop)")
        .y_desc("achieved MM/s")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("p99 submit -> push, ms (log)")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    let floor = p99_min.max(0.1);
    let p99: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.offered, p.p99_ms.max(floor)))
        .collect();
    let line = |f: fn(&Point) -> f64| points.iter().map(move |p| (p.offered, f(p)));
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (x_max, x_max)],
            ShapeStyle::from(&BLACK.mix(0.3)).stroke_width(1),
        ))?
        .label("offered = achieved")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.3)));
    type Series = (&'static str, RGBColor, fn(&Point) -> f64);
    let primary: [Series; 2] = [
        ("accepted MM/s", BLUE, |p| p.accepted),
        ("pushed MM/s", GREEN, |p| p.pushed),
    ];
    for (label, color, value) in primary {
        chart
            .draw_series(LineSeries::new(line(value), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
        chart.draw_series(PointSeries::of_element(
            line(value),
            4,
            color.filled(),
            &|c, s, st| Circle::new(c, s, st),
        ))?;
    }
    chart
        .draw_secondary_series(LineSeries::new(p99.iter().copied(), RED.stroke_width(2)))?
        .label("p99 submit -> push (right axis)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED));
    chart.draw_secondary_series(PointSeries::of_element(
        p99.iter().copied(),
        4,
        RED.filled(),
        &|c, s, st| Circle::new(c, s, st),
    ))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_the_axes_and_the_series() {
        let points = [
            Point {
                offered: 50.0,
                accepted: 50.0,
                pushed: 49.0,
                p99_ms: 120.0,
            },
            Point {
                offered: 400.0,
                accepted: 390.0,
                pushed: 300.0,
                p99_ms: 9000.0,
            },
        ];
        let svg = render_svg("test curve", &points).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
        for text in ["test curve", "offered MM/s", "pushed MM/s", "p99 submit"] {
            assert!(svg.contains(text), "no {text:?} in the SVG");
        }
        assert!(svg.matches("<circle").count() >= 6);
    }
}
