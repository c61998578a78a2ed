/* The demo's palette, shared by the scene generator (demo_db.c, which
 * keeps drawn colours apart) and the renderer (demo_draw.c). */
#include "demo_db.h"

static const float palette[AT_DEMO_NCOLOURS][3] = {
    {0.86f, 0.16f, 0.16f}, {0.16f, 0.66f, 0.24f}, {0.16f, 0.32f, 0.86f}, {0.95f, 0.83f, 0.15f},
    {0.96f, 0.52f, 0.10f}, {0.55f, 0.24f, 0.72f}, {0.95f, 0.95f, 0.95f}, {0.10f, 0.10f, 0.10f}};

void at_demo_colour_rgb(int colour, float rgb[3]) {
    if (colour < 0 || colour >= AT_DEMO_NCOLOURS) colour = AT_DEMO_BLACK;
    for (int c = 0; c < 3; c++) rgb[c] = palette[colour][c];
}
